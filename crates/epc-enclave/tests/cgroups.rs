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
