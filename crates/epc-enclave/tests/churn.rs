//! Enclave churn: enclaves created and destroyed over and over while
//! others run, ksgxd and direct reclaim hold some of the dying enclaves'
//! pages, and teardown releases in batches. Every page comes back, every
//! survivor reads back right. The CI version runs a few rounds; the soak
//! (`cargo test -p epc-enclave --release --test churn -- --ignored`) runs
//! many.

mod common;

use common::*;
use epc_enclave::{Enclave, EnclaveError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const EPC: u32 = 128;

/// A thread of `e` (built with `tag`, `data` pages) reading random pages
/// until `stop` or until the enclave dies; returns whether it read only
/// right words.
fn reader(e: Arc<Enclave>, tag: u64, data: u64, seed: u64, stop: Arc<AtomicBool>) -> bool {
    let Ok(mut th) = e.thread() else {
        return true; // destroyed before it could start
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let i = rng.gen_range(0..data);
        match th.read_u64(data_addr(&e, i).add(8 * 3)) {
            Ok(v) => {
                if v != pattern(tag, i, 3) {
                    return false;
                }
            }
            Err(EnclaveError::Killed(_)) => return true,
            Err(err) => panic!("enclave {tag}: {err}"),
        }
    }
    true
}

fn churn(rounds: u64, seed: u64) {
    let (machine, mm) = system(EPC, false);
    // A long-lived enclave, larger than the EPC, runs through all rounds.
    let stay = build(&machine, &mm, 1, 160, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let stayer = {
        let (e, stop) = (stay.clone(), stop.clone());
        thread::spawn(move || reader(e, 1, 160, seed, stop))
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for round in 0..rounds {
        // A short-lived enclave, built while the EPC is full (its build
        // reclaims), run by a thread, destroyed while its thread, ksgxd
        // and the other enclave's faults hold some of its pages.
        let tag = 100 + round;
        let data = rng.gen_range(16..96);
        let e = build(&machine, &mm, tag, data, 1);
        let th_stop = Arc::new(AtomicBool::new(false));
        let th = {
            let (e, s) = (e.clone(), th_stop.clone());
            thread::spawn(move || reader(e, tag, data, round, s))
        };
        thread::sleep(std::time::Duration::from_millis(rng.gen_range(0..8)));
        if rng.gen_bool(0.5) {
            e.destroy();
        } else {
            e.destroy_in_batches(rng.gen_range(1..8));
        }
        th_stop.store(true, Ordering::Relaxed);
        assert!(th.join().unwrap(), "round {round}: wrong word read");
        assert!(e.killed().is_some());
        assert_eq!(e.usage().backing_bytes, 0, "sealed copies dropped at once");
        // Pages the reclaimer held come back when its batch goes on.
        let mut waits = 0u64;
        while e.usage().pages != 0 {
            waits += 1;
            assert!(waits < 50_000_000, "round {round}: pages never came back");
            thread::yield_now();
        }
        drop(e);
        mm.validate().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(stayer.join().unwrap(), "the long-lived enclave read wrong");
    assert!(stay.killed().is_none());
    drop(stay);
    mm.shutdown();
    mm.validate().unwrap();
    assert_eq!(mm.free_pages(), EPC as usize, "every page came back");
    machine.validate().unwrap();
    let c = mm.counters();
    assert!(c.evicted > 0, "{c:?}");
}

#[test]
fn destroy_under_churn_short() {
    churn(12, 1);
}

#[test]
#[ignore = "soak: run with --release --ignored"]
fn destroy_under_churn_soak() {
    for seed in 0..20 {
        churn(200, seed);
    }
}
