//! Several enclaves with several threads each, four times the EPC in total,
//! writing and verifying their own patterns while ksgxd and direct reclaim
//! run, one enclave destroyed halfway; and two reclaimers against one busy
//! enclave.

mod common;

use common::*;
use epc_enclave::{Enclave, EnclaveError};
use epc_hw::Event;
use epc_mm::ReclaimPermit;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

const ENCLAVES: u64 = 4;
const THREADS: u64 = 2;
const EPC: u32 = 160;
const DATA: u64 = 160; // per enclave: 4 x 160 = 4 x the EPC

/// Thread `t` owns word `t` of every page: page, thread and a counter.
fn word(i: u64, t: u64, n: u64) -> u64 {
    (i << 40) | (t << 32) | n
}

fn worker(
    e: Arc<Enclave>,
    tag: u64,
    t: u64,
    ops: u64,
    start: Arc<Barrier>,
    progress: Arc<AtomicU64>,
) -> Result<u64, EnclaveError> {
    let mut th = e.thread()?;
    let mut rng = ChaCha8Rng::seed_from_u64(tag * 100 + t);
    let mut counters = vec![0u64; DATA as usize];
    start.wait();
    let mut wrong = 0;
    for _ in 0..ops {
        progress.fetch_add(1, Ordering::Relaxed);
        let i = rng.gen_range(0..DATA);
        let addr = data_addr(&e, i).add(8 * (8 + t));
        let n = counters[i as usize];
        let want = if n == 0 {
            pattern(tag, i, 8 + t)
        } else {
            word(i, t, n)
        };
        if th.read_u64(addr)? != want {
            wrong += 1;
        }
        if rng.gen_bool(0.5) {
            counters[i as usize] += 1;
            th.write_u64(addr, word(i, t, n + 1))?;
        }
    }
    // Final check of every page's word.
    for i in 0..DATA {
        let addr = data_addr(&e, i).add(8 * (8 + t));
        let n = counters[i as usize];
        let want = if n == 0 {
            pattern(tag, i, 8 + t)
        } else {
            word(i, t, n)
        };
        if th.read_u64(addr)? != want {
            wrong += 1;
        }
    }
    Ok(wrong)
}

#[test]
fn many_enclaves_four_times_the_epc_with_one_destroyed_halfway() {
    let (machine, mm) = system(EPC, false);
    let enclaves: Vec<_> = (0..ENCLAVES)
        .map(|tag| build(&machine, &mm, tag + 1, DATA, THREADS))
        .collect();
    let start = Arc::new(Barrier::new((ENCLAVES * THREADS) as usize + 1));
    const OPS: u64 = 4000;
    let progress: Vec<_> = (0..ENCLAVES).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut handles = Vec::new();
    for (k, e) in enclaves.iter().enumerate() {
        for t in 0..THREADS {
            let (e, start, p) = (e.clone(), start.clone(), progress[k].clone());
            handles.push((
                k,
                thread::spawn(move || worker(e, k as u64 + 1, t, OPS, start, p)),
            ));
        }
    }
    start.wait();
    // Destroy enclave 0 halfway through its threads' work, while they and
    // the reclaimer work on it.
    while progress[0].load(Ordering::Relaxed) < OPS * THREADS / 2
        && !handles
            .iter()
            .filter(|(k, _)| *k == 0)
            .all(|(_, h)| h.is_finished())
    {
        thread::yield_now();
    }
    enclaves[0].destroy();

    let mut killed = 0;
    for (k, h) in handles {
        match h.join().unwrap() {
            Ok(wrong) => assert_eq!(wrong, 0, "enclave {k} read wrong words"),
            Err(EnclaveError::Killed(_)) => {
                assert_eq!(k, 0, "only enclave 0 was destroyed");
                killed += 1;
            }
            Err(e) => panic!("enclave {k}: {e}"),
        }
    }
    // A thread of enclave 0 that was still working saw it die; one that had
    // already finished (the scheduler may let one run ahead) read only right
    // words. Either way the enclave is dead and its pages are gone.
    assert!(killed <= THREADS);
    assert!(enclaves[0].killed().is_some());
    assert_eq!(enclaves[0].usage().pages, 0);
    let mm_counters = mm.counters();
    assert!(mm_counters.ksgxd_wakeups > 0, "{mm_counters:?}");
    assert!(mm_counters.direct_reclaims > 0, "{mm_counters:?}");
    assert!(mm_counters.evicted > 0);
    for e in &enclaves[1..] {
        let c = e.counters();
        assert!(c.eldu <= c.ewb, "{c:?}");
    }
    drop(enclaves);
    // ksgxd may hold the last reference of an enclave in a batch in
    // flight; stopping it completes that batch and its teardown.
    mm.shutdown();
    assert_eq!(
        mm.free_pages(),
        EPC as usize,
        "every EPC page accounted for"
    );
    mm.validate().unwrap();
    machine.validate().unwrap();
}

#[test]
fn two_reclaimers_against_one_busy_enclave() {
    let (machine, mm) = system(64, true);
    let e = build(&machine, &mm, 9, 48, 2);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(5));
    // Two threads keep the enclave busy...
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let (e, stop, start) = (e.clone(), stop.clone(), start.clone());
            thread::spawn(move || {
                let mut th = e.thread().unwrap();
                let mut rng = ChaCha8Rng::seed_from_u64(t);
                start.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = rng.gen_range(0..48);
                    let addr = data_addr(&e, i).add(8 * (16 + t));
                    let v = th.read_u64(addr).unwrap();
                    assert!(
                        v == pattern(9, i, 16 + t) || v >> 40 == i,
                        "word of page {i}: {v:#x}"
                    );
                    th.write_u64(addr, (i << 40) | n).unwrap();
                    n += 1;
                }
            })
        })
        .collect();
    // ...while two reclaimers run batches against it at once.
    let reclaimers: Vec<_> = (0..2)
        .map(|_| {
            let (mm, stop, start) = (mm.clone(), stop.clone(), start.clone());
            thread::spawn(move || {
                let mut permit = ReclaimPermit::new();
                start.wait();
                let mut evicted = 0;
                while !stop.load(Ordering::Relaxed) {
                    evicted += mm.reclaim_batch(&mut permit).evicted;
                }
                evicted
            })
        })
        .collect();
    start.wait();
    thread::sleep(std::time::Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let evicted: u64 = reclaimers.into_iter().map(|r| r.join().unwrap()).sum();
    let c = e.counters();
    assert!(evicted > 0 && c.ewb >= evicted, "{c:?}");
    assert!(c.not_tracked > 0, "the ladder was exercised: {c:?}");
    assert!(machine.ledger().count(Event::Ipi) > 0);
    assert_eq!(mm.counters().write_failures, 0);
    assert!(e.killed().is_none());
    drop(e);
    assert_eq!(mm.free_pages(), 64);
    mm.validate().unwrap();
}
