//! Several threads allocate, mark, touch, free and tear down owners while
//! ksgxd and direct reclaim run; afterwards `validate()` passes and every
//! page is accounted for (free = total once every owner is gone).

mod common;

use common::MockOwner;
use epc_mm::{AllocError, AllocMode, EpcManager, ManagerConfig, ReclaimPermit};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

fn run(threads: u64, owners_per_thread: u64, pages_per_owner: u64, seed: u64) {
    // Small enough that the owners together want several times the EPC.
    let mut cfg = ManagerConfig::with_pages(64);
    cfg.low_watermark = 8;
    cfg.high_watermark = 16;
    cfg.batch = 4;
    let mgr = Arc::new(EpcManager::new(cfg).unwrap());

    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let mgr = Arc::clone(&mgr);
            std::thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + t);
                let mut permit = ReclaimPermit::new();
                for j in 0..owners_per_thread {
                    let owner = MockOwner::new(&mgr, t * 1_000_000 + j);
                    let mut torn_down = false;
                    for i in 0..pages_per_owner {
                        let addr = 0x1000 * (i + 1);
                        if rng.gen_ratio(1, 50) {
                            owner.decline.lock().insert(addr);
                        }
                        if rng.gen_ratio(1, 100) {
                            owner.fail_write.lock().insert(addr);
                        }
                        let mode = if rng.gen_ratio(1, 4) {
                            AllocMode::NoReclaim
                        } else {
                            AllocMode::Reclaim(&mut permit)
                        };
                        match owner.add(addr, mode) {
                            Ok(_) => {}
                            Err(AllocError::Busy | AllocError::NoMemory) => continue,
                            Err(e @ (AllocError::Interrupted | AllocError::UnknownGroup(_))) => {
                                unreachable!("{e}")
                            }
                        }
                        if rng.gen_ratio(1, 3) {
                            owner.touch(0x1000 * rng.gen_range(1..=i + 1));
                        }
                        if rng.gen_ratio(1, 8) {
                            owner.remove(0x1000 * rng.gen_range(1..=i + 1));
                        }
                        if rng.gen_ratio(1, 200) {
                            mgr.validate().expect("validate while running");
                        }
                        if rng.gen_ratio(1, 150) {
                            owner.teardown();
                            torn_down = true;
                            break;
                        }
                    }
                    if !torn_down && rng.gen_bool(0.5) {
                        owner.teardown();
                    }
                    // Dropping the owner frees what is left; pages a batch
                    // still holds come back through block/write.
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    mgr.shutdown();
    mgr.validate().expect("validate at quiescence");
    let c = mgr.counters();
    assert_eq!(c.free_pages, c.total_pages, "every page is back: {c:?}");
    assert_eq!((c.reclaimable_pages, c.isolated_pages), (0, 0));
    assert!(c.batches > 0 && c.evicted > 0, "reclaim ran: {c:?}");
}

#[test]
fn stress_alloc_mark_free_teardown_with_ksgxd_and_direct_reclaim() {
    for seed in 0..4 {
        run(4, 100, 300, seed);
    }
}

#[test]
#[ignore = "soak: minutes in debug builds; run with --ignored --release"]
fn soak_alloc_mark_free_teardown() {
    for seed in 0..20 {
        run(4, 200, 400, seed);
    }
}
