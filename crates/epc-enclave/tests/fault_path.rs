//! The fault path without the enclave lock: many threads faulting
//! different pages of one enclave while ksgxd reclaims it, and faults
//! racing the SECS's eviction (the handshake of `secs_gate.rs`).

mod common;

use common::*;
use epc_mm::ReclaimPermit;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

#[test]
fn threads_faulting_their_own_pages_under_ksgxd_keep_every_word() {
    const THREADS: u64 = 6;
    // Each thread's own pages alone are more than the EPC holds, so that
    // every thread keeps faulting even when the scheduler runs them one
    // after the other.
    const DATA: u64 = 360;
    const OPS: u64 = 3000;
    let (machine, mm) = system(64, false);
    let e = build(&machine, &mm, 3, DATA, THREADS);
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (e, start) = (e.clone(), start.clone());
            thread::spawn(move || {
                let mut th = e.thread().unwrap();
                let mut rng = ChaCha8Rng::seed_from_u64(t);
                // Thread t owns the pages i with i % THREADS == t.
                let mine: Vec<u64> = (0..DATA).filter(|i| i % THREADS == t).collect();
                let mut counters = vec![0u64; DATA as usize];
                start.wait();
                for _ in 0..OPS {
                    let i = mine[rng.gen_range(0..mine.len())];
                    let n = counters[i as usize];
                    let want = if n == 0 {
                        pattern(3, i, 7)
                    } else {
                        (i << 32) | n
                    };
                    let got = th.read_u64(data_addr(&e, i).add(8 * 7)).unwrap();
                    assert_eq!(got, want, "page {i}, word 7");
                    counters[i as usize] += 1;
                    th.write_u64(data_addr(&e, i).add(8 * 7), (i << 32) | (n + 1))
                        .unwrap();
                }
                for &i in &mine {
                    let n = counters[i as usize];
                    let want = if n == 0 {
                        pattern(3, i, 7)
                    } else {
                        (i << 32) | n
                    };
                    assert_eq!(th.read_u64(data_addr(&e, i).add(8 * 7)).unwrap(), want);
                    // A word nobody wrote keeps its pattern.
                    let w = th.read_u64(data_addr(&e, i).add(8 * 300)).unwrap();
                    assert_eq!(w, pattern(3, i, 300), "page {i}, word 300");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(e.killed().is_none());
    let c = e.counters();
    assert!(c.eldu > 0 && c.ewb >= c.eldu, "{c:?}");
    drop(e);
    mm.shutdown();
    assert_eq!(mm.free_pages(), 64, "every EPC page accounted for");
    mm.validate().unwrap();
    machine.validate().unwrap();
}

#[test]
fn faults_racing_the_secs_eviction() {
    const DATA: u64 = 12;
    let (machine, mm) = system(64, true);
    // No TCS: no pinned child, so the SECS leaves whenever the evictor
    // has written every page out.
    let e = build(&machine, &mm, 5, DATA, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(4));
    let progress = Arc::new(AtomicU64::new(0));
    let faulters: Vec<_> = (0..3u64)
        .map(|t| {
            let (e, stop, start) = (e.clone(), stop.clone(), start.clone());
            let progress = progress.clone();
            thread::spawn(move || {
                let mut permit = ReclaimPermit::new();
                let mut rng = ChaCha8Rng::seed_from_u64(t + 40);
                start.wait();
                let mut faults = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = rng.gen_range(0..DATA);
                    e.handle_fault(data_addr(&e, i), rng.gen_bool(0.5), &mut permit)
                        .unwrap();
                    faults += 1;
                    progress.fetch_add(1, Ordering::Relaxed);
                    // Leave the evictor windows with no child in the EPC.
                    for _ in 0..rng.gen_range(0..20) {
                        thread::yield_now();
                    }
                }
                faults
            })
        })
        .collect();
    let mut permit = ReclaimPermit::new();
    start.wait();
    // Until the faulters have done enough, however the scheduler runs them.
    while progress.load(Ordering::Relaxed) < 6000 {
        e.evict_regular_pages(DATA as usize, &mut permit).unwrap();
        thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let faults: u64 = faulters.into_iter().map(|f| f.join().unwrap()).sum();
    assert!(faults > 0);
    // One quiet round: the SECS leaves with the last page and comes back
    // with the first fault.
    e.evict_regular_pages(DATA as usize, &mut permit).unwrap();
    assert!(!e.usage().secs_resident, "{:?}", e.usage());
    e.handle_fault(data_addr(&e, 0), false, &mut permit)
        .unwrap();
    assert!(e.killed().is_none(), "{:?}", e.killed());
    let c = e.counters();
    assert!(c.secs_evictions > 0 && c.secs_reloads > 0, "{c:?}");
    let u = e.usage();
    assert_eq!(u.pages, DATA as usize);
    assert_eq!(u.resident + u.evicted, DATA as usize, "{u:?}");
    assert!(u.secs_resident);
    mm.validate().unwrap();
    machine.validate().unwrap();
    e.destroy();
    assert_eq!(e.usage().backing_bytes, 0);
    drop(e);
    assert_eq!(mm.free_pages(), 64, "every EPC page accounted for");
}
