//! SGX2 flows of the enclave layer under oversubscription: dynamic
//! enclaves growing past the EPC by EAUG on fault with ksgxd and direct
//! reclaim running, trimming while pages are reclaimed, permission
//! restriction, a thread entering through a TCS made at run time, and the
//! races (two faults on one address, EAUG after the SECS was evicted,
//! removal against reclaim). Every page reads back, nothing leaks,
//! `validate()` holds.

mod common;

use common::{pattern, system};
use epc_enclave::{Enclave, EnclaveConfig, EnclaveError, EnclaveThread};
use epc_hw::{LinearAddress, Machine, Perms, PAGE_SIZE};
use epc_mm::{EpcManager, ReclaimPermit};
use std::sync::{Arc, Barrier};

/// A dynamic enclave of `pages` pages of range with `threads` TCS (EADD)
/// at its top and `initial` regular pages added (EADD) at its bottom.
fn dynamic(
    machine: &Arc<Machine>,
    mm: &Arc<EpcManager>,
    pages: u64,
    threads: u64,
    initial: u64,
) -> Arc<Enclave> {
    let mut permit = ReclaimPermit::new();
    let mut cfg = EnclaveConfig::for_pages(pages);
    cfg.dynamic = true;
    let e = Enclave::create(machine.clone(), mm.clone(), cfg, &mut permit).unwrap();
    for i in 0..initial {
        e.add_page(addr(&e, i), Perms::RW, &[0; 4096], &mut permit)
            .unwrap();
    }
    let top = cfg.size / PAGE_SIZE;
    for t in 0..threads {
        let tcs = addr(&e, top - 2 * (t + 1));
        e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit).unwrap();
    }
    e.init().unwrap();
    e
}

fn addr(e: &Enclave, i: u64) -> LinearAddress {
    e.config().base.add(i * PAGE_SIZE)
}

fn fill(th: &mut EnclaveThread, tag: u64, pages: std::ops::Range<u64>) {
    let e = th.enclave().clone();
    for i in pages {
        for w in [0u64, 511] {
            th.write_u64(addr(&e, i).add(w * 8), pattern(tag, i, w))
                .unwrap();
        }
    }
}

fn check(th: &mut EnclaveThread, tag: u64, pages: impl Iterator<Item = u64>) {
    let e = th.enclave().clone();
    for i in pages {
        for w in [0u64, 511] {
            let v = th.read_u64(addr(&e, i).add(w * 8)).unwrap();
            assert_eq!(v, pattern(tag, i, w), "page {i} word {w}");
        }
    }
}

fn teardown(machine: &Machine, mm: &EpcManager, enclaves: Vec<Arc<Enclave>>, epc: usize) {
    for e in &enclaves {
        e.destroy();
    }
    drop(enclaves);
    mm.shutdown();
    machine.validate().unwrap();
    mm.validate().unwrap();
    assert_eq!(mm.free_pages(), epc, "every page is free after teardown");
}

#[test]
fn dynamic_enclaves_grow_past_the_epc_and_trim_while_reclaimed() {
    let (machine, mm) = system(96, false);
    let enclaves: Vec<_> = (0..2).map(|_| dynamic(&machine, &mm, 256, 1, 2)).collect();
    std::thread::scope(|s| {
        for (tag, e) in enclaves.iter().enumerate() {
            let e = e.clone();
            s.spawn(move || {
                let tag = tag as u64 + 1;
                let mut th = e.thread().unwrap();
                // 2 pages added at build, 148 more on first touch: far
                // past the EPC with the other enclave doing the same.
                fill(&mut th, tag, 0..150);
                check(&mut th, tag, 0..150);
                // Give back every other chunk of 8 while the reclaimer
                // is evicting them (trim reloads evicted ones first).
                for c in (0..150 / 8).step_by(2) {
                    assert_eq!(th.trim(addr(&e, c * 8), 8).unwrap(), 8);
                }
                let kept = |i: &u64| (i / 8) % 2 == 1 || *i >= 144;
                check(&mut th, tag, (0..150).filter(kept));
                // A trimmed address is empty again: touching it adds a
                // fresh, zeroed page.
                assert_eq!(th.read_u64(addr(&e, 0)).unwrap(), 0);
            });
        }
    });
    for e in &enclaves {
        let c = e.counters();
        assert_eq!(c.eaug, 148 + 1, "{c:?}");
        assert!(c.eaccept >= 149 + 72, "{c:?}");
        assert_eq!(c.emodt, 72, "{c:?}");
        assert_eq!(c.eremove_trim, 72, "{c:?}");
        assert!(c.ewb > 0 && c.eldu > 0, "{c:?}");
        assert_eq!(c.access_errors, 0);
    }
    let m = mm.counters();
    assert!(m.ksgxd_wakeups > 0 || m.direct_reclaims > 0);
    teardown(&machine, &mm, enclaves, 96);
}

#[test]
fn two_threads_faulting_one_address_cause_one_eaug() {
    for round in 0..20 {
        let (machine, mm) = system(64, true);
        let e = dynamic(&machine, &mm, 64, 2, 0);
        let barrier = Barrier::new(2);
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let (e, barrier) = (e.clone(), &barrier);
                s.spawn(move || {
                    let mut th = e.thread().unwrap();
                    barrier.wait();
                    for i in 0..16 {
                        th.write_u64(addr(&e, i).add(t * 8), 100 * i + t).unwrap();
                    }
                });
            }
        });
        let c = e.counters();
        assert_eq!(c.eaug, 16, "round {round}: {c:?}");
        let mut th = e.thread().unwrap();
        for i in 0..16 {
            for t in 0..2 {
                assert_eq!(th.read_u64(addr(&e, i).add(t * 8)).unwrap(), 100 * i + t);
            }
        }
        drop(th);
        teardown(&machine, &mm, vec![e], 64);
    }
}

#[test]
fn eaug_after_the_secs_was_evicted_reloads_it_first() {
    let (machine, mm) = system(48, true);
    let a = dynamic(&machine, &mm, 64, 1, 0);
    {
        let mut th = a.thread().unwrap();
        fill(&mut th, 1, 0..8);
    }
    // Another enclave streams through the EPC: every page of `a`, its TCS
    // and SSA included (no thread holds them), is evicted, then its SECS.
    // How many passes that takes depends on the policy (a frequency-aware
    // one keeps `a`'s pages through the first scans), so stream until the
    // SECS is out, within a bound.
    let b = common::build(&machine, &mm, 2, 60, 1);
    {
        let mut th = b.thread().unwrap();
        for _ in 0..50 {
            for i in 0..60 {
                th.read_u64(common::data_addr(&b, i)).unwrap();
            }
            if !a.usage().secs_resident {
                break;
            }
        }
    }
    assert!(!a.usage().secs_resident, "{:?}", a.usage());
    let mut th = a.thread().unwrap();
    // Entering reloads the SECS, then the new page is added under it.
    fill(&mut th, 1, 8..12);
    check(&mut th, 1, 0..12);
    let c = a.counters();
    assert!(c.secs_reloads >= 1, "{c:?}");
    assert_eq!(c.eaug, 12);
    drop(th);
    teardown(&machine, &mm, vec![a, b], 48);
}

#[test]
fn removal_races_the_reclaimer_and_never_loses_a_page() {
    let (machine, mm) = system(64, false);
    let e = dynamic(&machine, &mm, 256, 2, 0);
    let pressure = common::build(&machine, &mm, 9, 80, 1);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let p = pressure.clone();
        let stop = &stop;
        s.spawn(move || {
            let mut th = p.thread().unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for i in 0..80 {
                    th.read_u64(common::data_addr(&p, i)).unwrap();
                }
            }
        });
        let mut th = e.thread().unwrap();
        for round in 0..3u64 {
            fill(&mut th, round, 0..96);
            assert_eq!(th.trim(addr(&e, 0), 96).unwrap(), 96);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let c = e.counters();
    assert_eq!(c.eaug, 3 * 96);
    assert_eq!(c.eremove_trim, 3 * 96);
    let u = e.usage();
    // Only the two TCS and their SSA pages are left.
    assert_eq!(u.pages, 4, "{u:?}");
    teardown(&machine, &mm, vec![e, pressure], 64);
}

#[test]
fn a_thread_created_at_run_time_enters_through_a_new_tcs() {
    let (machine, mm) = system(48, false);
    let e = dynamic(&machine, &mm, 128, 1, 0);
    let mut first = e.thread().unwrap();
    fill(&mut first, 3, 0..64);
    // Pages 100 and 101 have no page yet: they become a TCS and its SSA.
    first.add_tcs(addr(&e, 100), addr(&e, 101)).unwrap();
    assert_eq!(e.counters().emodt, 1);
    let e2 = e.clone();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut second = e2.thread().unwrap();
            check(&mut second, 3, 0..64);
            second.write_u64(addr(&e2, 70), 7).unwrap();
        });
    });
    assert_eq!(first.read_u64(addr(&e, 70)).unwrap(), 7);
    // The run-time TCS can be trimmed once no thread runs on it.
    assert_eq!(first.trim(addr(&e, 100), 2).unwrap(), 2);
    assert!(matches!(e.thread(), Err(EnclaveError::Usage(_))));
    drop(first);
    teardown(&machine, &mm, vec![e], 48);
}

#[test]
fn restricted_permissions_refuse_writes_after_the_enclave_accepts() {
    let (machine, mm) = system(48, true);
    let e = dynamic(&machine, &mm, 64, 1, 0);
    let mut th = e.thread().unwrap();
    fill(&mut th, 4, 0..8);
    th.restrict(addr(&e, 0), 4, Perms::R).unwrap();
    let c = e.counters();
    assert_eq!(c.emodpr, 4);
    check(&mut th, 4, 0..8);
    let err = th.write_u64(addr(&e, 1), 0).unwrap_err();
    assert!(matches!(err, EnclaveError::AccessViolation { .. }), "{err}");
    th.write_u64(addr(&e, 5), 1).unwrap();
    assert_eq!(e.counters().access_errors, 1);
    // A change the enclave has not accepted yet (page 7 trimmed, no
    // EACCEPT) stops a range with SGX_PAGE_NOT_MODIFIABLE, reported with
    // the count of pages done, as the ioctl reports it.
    let mut permit = ReclaimPermit::new();
    let out = e
        .modify_types(addr(&e, 7), 1, epc_hw::PageType::Trim, &mut permit)
        .unwrap();
    assert_eq!((out.count, out.result), (1, None));
    let out = e
        .restrict_permissions(addr(&e, 6), 2, Perms::R, &mut permit)
        .unwrap();
    assert_eq!(out.count, 1);
    assert_eq!(out.result, Some(epc_hw::SgxError::PageNotModifiable));
    // Removing it before the enclave accepts the trim is refused, and the
    // page stays.
    assert!(matches!(
        e.remove_pages(addr(&e, 7), 1, &mut permit),
        Err(EnclaveError::Usage(_))
    ));
    th.accept(addr(&e, 7), epc_hw::SecInfo::emodt(epc_hw::PageType::Trim))
        .unwrap();
    assert_eq!(e.remove_pages(addr(&e, 7), 1, &mut permit).unwrap(), 1);
    drop(th);
    teardown(&machine, &mm, vec![e], 48);
}
