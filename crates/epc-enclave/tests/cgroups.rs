//! Enclaves in EPC groups: every page an enclave uses (SECS, VA, TCS, SSA,
//! regular) is charged to its group; a group limit makes the enclave page
//! within the group while global memory is free; a limit too small for the
//! unreclaimable pages is a clear error, not a kill; usage returns to zero
//! when the enclaves go.

mod common;

use common::*;
use epc_enclave::{Enclave, EnclaveConfig, EnclaveError};
use epc_hw::Perms;
use epc_mm::{GroupLimits, PolicyKind, ReclaimPermit};

#[test]
fn an_enclave_pages_within_its_group_limit() {
    let (machine, mm) = system(256, true);
    let g = mm
        .create_group("/tenant", GroupLimits::max(24), PolicyKind::SecondChance)
        .unwrap();
    let mut permit = ReclaimPermit::new();
    let mut cfg = EnclaveConfig::for_pages(64 + 2);
    cfg.group = g;
    let e = Enclave::create(machine.clone(), mm.clone(), cfg, &mut permit).unwrap();
    for i in 0..64 {
        e.add_page(
            data_addr(&e, i),
            Perms::RW,
            &page_content(9, i),
            &mut permit,
        )
        .unwrap();
        let s = mm.group_stats(g).unwrap();
        assert!(s.current <= 24, "{s:?}");
    }
    let tcs = data_addr(&e, 64);
    e.add_tcs(tcs, tcs.add(4096), 1, &mut permit).unwrap();
    e.init().unwrap();
    let mut t = e.thread().unwrap();
    for i in (0..64).rev() {
        assert_eq!(t.read_u64(data_addr(&e, i)).unwrap(), pattern(9, i, 0));
    }
    drop(t);
    let s = mm.group_stats(g).unwrap();
    let u = e.usage();
    // SECS, VA pages and resident children: all charged to the group.
    assert_eq!(
        s.current,
        u.resident + usize::from(u.secs_resident) + u.va_pages,
        "{s:?} {u:?}"
    );
    assert!(s.evicted > 0 && s.peak <= 24, "{s:?}");
    assert!(mm.free_pages() > 256 - 24 - 1, "global memory stayed free");
    mm.validate().unwrap();
    machine.validate().unwrap();
    e.destroy();
    drop(e);
    assert_eq!(mm.group_stats(g).unwrap().current, 0);
    assert_eq!(mm.free_pages(), 256);
    mm.validate().unwrap();
}

#[test]
fn a_limit_below_the_unreclaimable_pages_is_a_clear_error() {
    let (machine, mm) = system(256, true);
    let g = mm
        .create_group("/tiny", GroupLimits::max(1), PolicyKind::Fifo)
        .unwrap();
    let mut permit = ReclaimPermit::new();
    let mut cfg = EnclaveConfig::for_pages(8);
    cfg.group = g;
    // The SECS fits; its VA page does not, and nothing is reclaimable.
    let err = Enclave::create(machine.clone(), mm.clone(), cfg, &mut permit).unwrap_err();
    match &err {
        EnclaveError::GroupLimit { group, max } => assert_eq!((group.as_str(), *max), ("/tiny", 1)),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("/tiny"), "{err}");
    assert_eq!(mm.group_stats(g).unwrap().current, 0);
    assert_eq!(mm.free_pages(), 256);
    mm.validate().unwrap();
}

/// The Linux selftests (`run_epc_cg_selftests.sh`, cgroup series v11+),
/// scaled to a 512-page EPC (`CAPACITY`): each run builds an enclave whose
/// heap is as large as the EPC, enters it and reads every page back.
mod selftests {
    use super::*;
    use epc_hw::Machine;
    use epc_mm::{EpcManager, GroupId};
    use std::sync::{Arc, Barrier};

    const CAPACITY: u64 = 512;

    /// One `unclobbered_vdso_oversubscribed` run in `group`: `Ok` if the
    /// enclave was built and every page read back, `Err` with the error.
    fn run(
        machine: &Arc<Machine>,
        mm: &Arc<EpcManager>,
        group: GroupId,
        tag: u64,
        destroy_midway: bool,
    ) -> Result<(), EnclaveError> {
        let mut permit = ReclaimPermit::new();
        let mut cfg = EnclaveConfig::for_pages(CAPACITY + 2);
        cfg.group = group;
        let e = Enclave::create(machine.clone(), mm.clone(), cfg, &mut permit)?;
        for i in 0..CAPACITY {
            e.add_page(
                data_addr(&e, i),
                Perms::RW,
                &page_content(tag, i),
                &mut permit,
            )?;
            if destroy_midway && i == CAPACITY / 2 {
                // The selftest kills one process at random mid-run.
                e.destroy();
                return Ok(());
            }
        }
        let tcs = data_addr(&e, CAPACITY);
        e.add_tcs(tcs, tcs.add(4096), 1, &mut permit)?;
        e.init()?;
        let mut t = e.thread()?;
        for i in 0..CAPACITY {
            assert_eq!(t.read_u64(data_addr(&e, i))?, pattern(tag, i, 0));
        }
        drop(t);
        e.destroy();
        Ok(())
    }

    /// `test1` holding the limit, the runs in its leaf `test1/test3`.
    fn groups(mm: &EpcManager, max: u64) -> (GroupId, GroupId) {
        let limit = GroupLimits::max(max as usize);
        let test1 = mm
            .create_group("/test1", limit, PolicyKind::default())
            .unwrap();
        let test3 = mm
            .create_group(
                "/test1/test3",
                GroupLimits::UNLIMITED,
                PolicyKind::default(),
            )
            .unwrap();
        (test1, test3)
    }

    /// After the runs every group's usage is zero (the selftests' leak
    /// check) and the manager's books balance. Pages a reclaim batch held
    /// when their enclave was destroyed come back when ksgxd hands them
    /// back, so this waits for that (with a guard against a hang, not a
    /// timing assertion).
    fn no_leak(mm: &EpcManager) {
        let start = std::time::Instant::now();
        while (mm.free_pages() as u64) < CAPACITY
            && start.elapsed() < std::time::Duration::from_secs(20)
        {
            std::thread::yield_now();
        }
        assert!(
            mm.groups().iter().all(|g| g.current == 0),
            "{:?}",
            mm.groups()
        );
        assert_eq!(mm.free_pages() as u64, CAPACITY);
        mm.validate().unwrap();
    }

    #[test]
    fn small_limit_fails_cleanly() {
        let (machine, mm) = system(CAPACITY as u32, false);
        let (test1, test3) = groups(&mm, CAPACITY / 512);
        let err = run(&machine, &mm, test3, 1, false).unwrap_err();
        assert!(
            matches!(&err, EnclaveError::GroupLimit { group, .. } if group == "/test1"),
            "{err}"
        );
        assert!(mm.group_stats(test1).unwrap().events_max > 0);
        no_leak(&mm);
    }

    /// LARGER = CAPACITY: eight runs at once all pass; again with one run
    /// destroyed midway, the others all pass.
    #[test]
    fn larger_limit_eight_at_once_pass_even_with_one_destroyed() {
        let (machine, mm) = system(CAPACITY as u32, false);
        let (test1, test3) = groups(&mm, CAPACITY);
        for victim in [None, Some(3)] {
            let start = Arc::new(Barrier::new(8));
            let runs: Vec<_> = (0..8u64)
                .map(|k| {
                    let (machine, mm, start) = (machine.clone(), mm.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        run(&machine, &mm, test3, k + 1, victim == Some(k))
                    })
                })
                .collect();
            for (k, r) in runs.into_iter().enumerate() {
                if let Err(e) = r.join().unwrap() {
                    panic!("run {k} failed: {e}");
                }
            }
            let s = mm.group_stats(test1).unwrap();
            assert!(s.peak <= CAPACITY as usize, "{s:?}");
            no_leak(&mm);
        }
        machine.validate().unwrap();
    }
}
