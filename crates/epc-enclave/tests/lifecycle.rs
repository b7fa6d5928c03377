//! SECS eviction after the last child and reload before the first; counters
//! that reconcile (VA slots against evicted pages); teardown racing the
//! reclaimer, many times over.

mod common;

use common::*;
use epc_mm::ReclaimPermit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

#[test]
fn secs_leaves_after_its_last_child_and_comes_back_first() {
    let (machine, mm) = system(64, true);
    let e = build(&machine, &mm, 3, 20, 1);
    // No thread runs: nothing is pinned, every child can go, TCS included.
    let mut permit = ReclaimPermit::new();
    while mm.reclaim_batch(&mut permit).evicted > 0 {}
    let u = e.usage();
    assert_eq!(u.resident, 0, "{u:?}");
    assert!(!u.secs_resident, "the SECS followed its last child: {u:?}");
    let c = e.counters();
    assert_eq!(c.secs_evictions, 1);
    // Evicted pages and the SECS each hold one VA slot.
    assert_eq!(u.va_slots_used, u.evicted + 1);
    assert_eq!(
        u.backing_bytes,
        (u.evicted as u64 + 1) * epc_enclave::BACKING_BYTES_PER_PAGE
    );
    assert_eq!(u.va_pages, 1);
    // Only the VA page is left in the EPC.
    assert_eq!(mm.free_pages(), 63);

    // A thread enters: the TCS faults in, the SECS first.
    let mut t = e.thread().unwrap();
    assert_eq!(t.read_u64(data_addr(&e, 7)).unwrap(), pattern(3, 7, 0));
    let c = e.counters();
    assert_eq!(c.secs_reloads, 1);
    assert!(e.usage().secs_resident);
    machine.validate().unwrap();
    mm.validate().unwrap();
}

#[test]
fn counters_reconcile() {
    let (machine, mm) = system(96, true);
    let e = build(&machine, &mm, 4, 200, 1);
    let mut t = e.thread().unwrap();
    for round in 0..3u64 {
        for i in (0..200).rev() {
            let a = data_addr(&e, i).add(8 * (round + 1));
            t.write_u64(a, round).unwrap();
        }
    }
    let c = e.counters();
    let u = e.usage();
    assert!(c.eldu <= c.ewb, "{c:?}");
    // Every EWB'd page is either reloaded or still evicted (the SECS stays
    // here, pinned by the running thread's TCS).
    assert_eq!(c.ewb, c.eldu + u.evicted as u64, "{c:?} {u:?}");
    // Each evicted page holds exactly one VA slot, released by its ELDU.
    assert_eq!(u.va_slots_used, u.evicted);
    assert_eq!(c.faults, c.eldu, "every fault loaded exactly one page");
    // The hardware's ledger agrees with the enclave's counts.
    let ledger = machine.ledger();
    assert_eq!(ledger.count(epc_hw::Event::Ewb), c.ewb);
    assert_eq!(ledger.count(epc_hw::Event::Eldu), c.eldu);
    assert_eq!(mm.counters().evicted, c.ewb);
    drop(t);
    e.destroy();
    let u = e.usage();
    assert_eq!(
        (u.pages, u.va_pages, u.va_slots_used, u.backing_bytes),
        (0, 0, 0, 0)
    );
    assert_eq!(mm.free_pages(), 96);
}

#[test]
fn destroy_racing_the_reclaimer_loses_nothing() {
    let (machine, mm) = system(48, true);
    for round in 0..40u64 {
        let e = build(&machine, &mm, round, 40, 1);
        let stop = Arc::new(AtomicBool::new(false));
        let reclaimer = {
            let (mm, stop) = (mm.clone(), stop.clone());
            thread::spawn(move || {
                let mut permit = ReclaimPermit::new();
                while !stop.load(Ordering::Relaxed) {
                    mm.reclaim_batch(&mut permit);
                }
            })
        };
        let mut t = e.thread().unwrap();
        for i in 0..(round % 40) {
            let _ = t.read_u64(data_addr(&e, i));
        }
        drop(t);
        e.destroy();
        stop.store(true, Ordering::Relaxed);
        reclaimer.join().unwrap();
        drop(e);
        assert_eq!(mm.free_pages(), 48, "round {round}: every page back");
        mm.validate().unwrap();
        machine.validate().unwrap();
    }
}
