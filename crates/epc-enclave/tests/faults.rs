//! Machine faults as enclaves see them: memory failure kills the enclave
//! that reads the poisoned page and no other, and nothing poisoned is ever
//! allocated again; a power cycle kills every enclave with "EPC lost",
//! releases everything, and new enclaves run normally afterwards.

mod common;

use common::*;
use epc_enclave::{epc_lost, memory_failure, Enclave, EnclaveError, KillReason};
use epc_hw::{EpcPageId, LinearAddress, NodeId, PAGE_SIZE};
use epc_mm::{AllocMode, EpcManager, MemoryFailure, ReclaimPermit};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// Every page of `e` reads back as built (word 0 and 511 of each).
fn reads_back(e: &Arc<Enclave>, tag: u64, data: u64) -> Result<(), EnclaveError> {
    let mut th = e.thread()?;
    for i in 0..data {
        for w in [0, 511] {
            let got = th.read_u64(data_addr(e, i).add(8 * w))?;
            assert_eq!(got, pattern(tag, i, w), "enclave {tag} page {i} word {w}");
        }
    }
    Ok(())
}

/// The manager is consistent, every page not retired is free (no enclave
/// is left), and no free page is poisoned: allocating everything never
/// yields one.
fn all_free_and_nothing_poisoned_allocatable(mm: &EpcManager) {
    mm.validate().unwrap();
    let poisoned: HashSet<EpcPageId> = mm.poisoned_pages().into_iter().collect();
    let retired: u64 = mm.nodes().iter().map(|n| n.retired_pages).sum();
    assert_eq!(
        retired as usize,
        poisoned.len(),
        "every poisoned page retired"
    );
    assert_eq!(mm.free_pages() + poisoned.len(), mm.total_pages());
    let mut pages = Vec::new();
    while let Ok(p) = mm.alloc(NodeId(0), AllocMode::NoReclaim) {
        assert!(!poisoned.contains(&p.id()), "{:?} allocated", p.id());
        pages.push(p);
    }
    assert_eq!(pages.len() + poisoned.len(), mm.total_pages());
    for p in pages {
        mm.free(p).unwrap();
    }
}

fn page_of(e: &Enclave, addr: LinearAddress) -> EpcPageId {
    e.resident_pages()
        .into_iter()
        .find(|&(a, _)| a == addr)
        .map(|(_, p)| p)
        .expect("resident")
}

#[test]
fn poison_of_a_resident_page_kills_only_the_enclave_that_reads_it() {
    let (machine, mm) = system(128, true);
    let a = build(&machine, &mm, 1, 16, 1);
    let b = build(&machine, &mm, 2, 16, 1);
    let addr = data_addr(&a, 5);
    let page = page_of(&a, addr);
    assert_eq!(
        memory_failure(&machine, &mm, page),
        Ok(MemoryFailure::Unlisted)
    );
    // A's other pages still read; the poisoned one is a machine check.
    let mut th = a.thread().unwrap();
    assert_eq!(th.read_u64(data_addr(&a, 4)).unwrap(), pattern(1, 4, 0));
    let err = th.read_u64(addr.add(8)).unwrap_err();
    let EnclaveError::Killed(reason) = err else {
        panic!("{err}")
    };
    assert_eq!(
        reason,
        KillReason::MemoryFailure {
            page: addr,
            epc_page: page
        }
    );
    assert_eq!(reason.kind(), "memory_failure");
    assert!(reason.to_string().contains("memory failure"), "{reason}");
    assert_eq!(a.killed(), Some(reason));
    drop(th);
    // B goes on.
    reads_back(&b, 2, 16).unwrap();
    assert!(b.killed().is_none());
    // The poisoned page was freed by A's teardown onto the poison list.
    assert!(mm.nodes()[0].retired_pages == 1);
    drop((a, b));
    all_free_and_nothing_poisoned_allocatable(&mm);
}

#[test]
fn a_poisoned_free_page_is_never_used_by_later_enclaves() {
    let (machine, mm) = system(64, true);
    for p in [0, 7, 30] {
        assert_eq!(
            memory_failure(&machine, &mm, EpcPageId(p)),
            Ok(MemoryFailure::Retired)
        );
    }
    // Twice the EPC: every page is allocated many times over.
    let e = build(&machine, &mm, 3, 100, 1);
    reads_back(&e, 3, 100).unwrap();
    reads_back(&e, 3, 100).unwrap();
    assert!(e.killed().is_none());
    drop(e);
    all_free_and_nothing_poisoned_allocatable(&mm);
}

#[test]
fn the_reclaimers_ewb_of_a_poisoned_page_kills_its_enclave() {
    // The platform poisons the page; before the OS hears of it, the
    // reclaimer picks the page: EWB consumes the poison, the enclave dies
    // with a memory failure, and the page is retired once the OS is told.
    let (machine, mm) = system(64, true);
    let a = build(&machine, &mm, 1, 8, 1);
    let b = build(&machine, &mm, 2, 8, 1);
    let victims: Vec<(LinearAddress, EpcPageId)> = a.resident_pages();
    for &(_, p) in &victims {
        machine.poison_page(p);
    }
    // Reclaim until A's pages have been tried.
    let mut permit = ReclaimPermit::new();
    for _ in 0..64 {
        mm.reclaim_batch(&mut permit);
    }
    let reason = a.killed().expect("A was killed by its write-back");
    assert_eq!(reason.kind(), "memory_failure", "{reason}");
    for &(_, p) in &victims {
        let _ = mm.memory_failure(p);
    }
    reads_back(&b, 2, 8).unwrap();
    drop((a, b));
    all_free_and_nothing_poisoned_allocatable(&mm);
}

#[test]
fn poison_of_the_page_under_a_reload_kills_the_enclave_at_its_first_read() {
    // Every free page is poisoned in the machine only (the OS has not heard
    // yet), so the next fault's reload lands on a poisoned frame: ELDU
    // writes it whole and succeeds, and the read that follows (the access,
    // or EENTER reading a TCS loaded there) is the machine check.
    let (machine, mm) = system(64, true);
    let e = build(&machine, &mm, 1, 100, 1); // most of it evicted
    let other = build(&machine, &mm, 2, 8, 1);
    drop(other); // leaves free pages
    let mut free = Vec::new();
    while let Ok(p) = mm.alloc(NodeId(0), AllocMode::NoReclaim) {
        free.push(p);
    }
    assert!(!free.is_empty());
    for p in free {
        machine.poison_page(p.id());
        mm.free(p).unwrap();
    }
    let resident: Vec<LinearAddress> = e.resident_pages().into_iter().map(|(a, _)| a).collect();
    let target = (0..100)
        .map(|i| data_addr(&e, i))
        .find(|a| !resident.contains(a))
        .expect("some page is evicted");
    let err = e
        .thread()
        .and_then(|mut th| th.read_u64(target))
        .unwrap_err();
    let EnclaveError::Killed(reason) = err else {
        panic!("{err}")
    };
    assert_eq!(reason.kind(), "memory_failure", "{reason}");
    drop(e);
    // Now the OS is told: the pages are free, so they retire at once.
    for p in machine.poisoned_pages() {
        assert_eq!(mm.memory_failure(p), Ok(MemoryFailure::Retired));
    }
    all_free_and_nothing_poisoned_allocatable(&mm);
}

#[test]
fn random_poison_under_ksgxd_and_faulting_threads() {
    // Pages are poisoned at random (resident, free, isolated, being loaded:
    // whatever they are at that instant) while two enclaves twice the EPC
    // fault and ksgxd reclaims. Each enclave either reads back right to
    // the end or is killed by a memory failure; nothing else happens.
    for round in 0..4u64 {
        let (machine, mm) = system(96, false);
        let enclaves: Vec<_> = (0..2).map(|t| build(&machine, &mm, t + 1, 96, 1)).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let poisoner = {
            let (machine, mm, stop) = (machine.clone(), mm.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(round);
                for _ in 0..3 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    thread::sleep(std::time::Duration::from_millis(rng.gen_range(1..20)));
                    let p = EpcPageId(rng.gen_range(0..96));
                    let _ = memory_failure(&machine, &mm, p);
                }
            })
        };
        let workers: Vec<_> = enclaves
            .iter()
            .enumerate()
            .map(|(t, e)| {
                let e = e.clone();
                thread::spawn(move || -> Result<(), EnclaveError> {
                    for _ in 0..3 {
                        reads_back(&e, t as u64 + 1, 96)?;
                    }
                    Ok(())
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        // The poisoner may still hit an enclave whose worker is done (ksgxd
        // writing back a poisoned page kills it too), so it is stopped
        // before the verdicts are read.
        stop.store(true, Ordering::Relaxed);
        poisoner.join().unwrap();
        for (result, e) in results.into_iter().zip(&enclaves) {
            match result {
                Ok(()) => {
                    if let Some(r) = e.killed() {
                        assert_eq!(r.kind(), "memory_failure", "round {round}: {r}");
                    }
                }
                Err(EnclaveError::Killed(r)) => {
                    assert_eq!(r.kind(), "memory_failure", "round {round}: {r}")
                }
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        drop(enclaves);
        mm.shutdown();
        all_free_and_nothing_poisoned_allocatable(&mm);
        machine.validate().unwrap();
    }
}

#[test]
fn poison_resident_page_under_reclaim_pressure_kills_only_its_target() {
    // A streamer twice the EPC keeps ksgxd and direct reclaim busy, so the
    // target's pages are evicted and reloaded all the time (its own thread
    // reads them in a loop too). `poison_resident_page` picks and poisons
    // under the target's lock, so the page is the target's when it is
    // poisoned: the target dies of it (or, for a page no read touches,
    // lives), and the streamer never does, round after round.
    const EPC: u32 = 128;
    const STREAM: u64 = 2 * EPC as u64;
    const DATA: u64 = 24;
    let (machine, mm) = system(EPC, false);
    let streamer = build(&machine, &mm, 100, STREAM, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let streaming = {
        let (e, stop) = (streamer.clone(), stop.clone());
        thread::spawn(move || -> Result<u32, EnclaveError> {
            let mut passes = 0;
            loop {
                reads_back(&e, 100, STREAM)?;
                passes += 1;
                if stop.load(Ordering::Relaxed) {
                    return Ok(passes);
                }
            }
        })
    };
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for round in 0..8u64 {
        let tag = round + 1;
        let target = build(&machine, &mm, tag, DATA, 1);
        let poisoned = Arc::new(AtomicBool::new(false));
        let reader = {
            let (e, poisoned) = (target.clone(), poisoned.clone());
            thread::spawn(move || -> Result<(), EnclaveError> {
                while !poisoned.load(Ordering::Acquire) {
                    reads_back(&e, tag, DATA)?;
                }
                reads_back(&e, tag, DATA)
            })
        };
        let (addr, page) = loop {
            thread::sleep(std::time::Duration::from_millis(rng.gen_range(0..4)));
            if let Some((addr, page, _)) = target.poison_resident_page(rng.gen()) {
                break (addr, page);
            }
        };
        poisoned.store(true, Ordering::Release);
        match reader.join().unwrap() {
            Err(EnclaveError::Killed(r)) => {
                assert_eq!(r.kind(), "memory_failure", "round {round}: {r}");
                let KillReason::MemoryFailure { epc_page, .. } = r else {
                    unreachable!()
                };
                assert_eq!(epc_page, page, "round {round}: another page killed it");
            }
            Err(e) => panic!("round {round}: {e}"),
            // Only a page the reads never touch (the SSA frame) may stay
            // poisoned unnoticed.
            Ok(()) => assert!(
                addr >= data_addr(&target, DATA + 1),
                "round {round}: {addr} poisoned and read without a machine check"
            ),
        }
        assert!(
            streamer.killed().is_none(),
            "round {round}: {:?}",
            streamer.killed()
        );
        drop(target);
    }
    stop.store(true, Ordering::Relaxed);
    let passes = streaming.join().unwrap().expect("the streamer lives");
    assert!(passes > 0);
    assert!(streamer.killed().is_none());
    drop(streamer);
    mm.shutdown();
    all_free_and_nothing_poisoned_allocatable(&mm);
    machine.validate().unwrap();
}

#[test]
fn power_cycle_under_ksgxd_and_faulting_threads_loses_everything() {
    let (machine, mm) = system(96, false);
    let enclaves: Vec<_> = (0..3).map(|t| build(&machine, &mm, t + 1, 64, 1)).collect();
    let started = Arc::new(std::sync::Barrier::new(4));
    let workers: Vec<_> = enclaves
        .iter()
        .enumerate()
        .map(|(t, e)| {
            let (e, started) = (e.clone(), started.clone());
            thread::spawn(move || -> EnclaveError {
                let mut th = e.thread().unwrap();
                started.wait();
                let mut rng = ChaCha8Rng::seed_from_u64(t as u64);
                loop {
                    let i = rng.gen_range(0..64);
                    match th.read_u64(data_addr(&e, i)) {
                        Ok(v) => assert_eq!(v, pattern(t as u64 + 1, i, 0)),
                        Err(err) => return err,
                    }
                }
            })
        })
        .collect();
    started.wait();
    thread::sleep(std::time::Duration::from_millis(30));
    machine.power_cycle().unwrap();
    // The OS notices (as a resume handler would); the threads notice too,
    // at their next fault, whichever comes first.
    epc_lost(&enclaves);
    for w in workers {
        let err = w.join().unwrap();
        assert!(
            matches!(err, EnclaveError::Killed(KillReason::EpcLost)),
            "{err}"
        );
    }
    for e in &enclaves {
        assert_eq!(e.killed(), Some(KillReason::EpcLost));
        assert_eq!(e.usage().backing_bytes, 0, "backing store released");
    }
    drop(enclaves);
    // A batch of ksgxd's may still hold the last reference to an old
    // enclave; once it is through, every page is free.
    let mut waits = 0u64;
    while mm.free_pages() != mm.total_pages() {
        waits += 1;
        assert!(waits < 50_000_000, "pages of the old world never came back");
        thread::yield_now();
    }
    mm.validate().unwrap();
    machine.validate().unwrap();
    for p in 0..96 {
        assert!(!machine.epcm(EpcPageId(p)).unwrap().valid);
    }
    // A new enclave, larger than the EPC, runs normally with ksgxd.
    let new = build(&machine, &mm, 9, 128, 1);
    reads_back(&new, 9, 128).unwrap();
    assert!(new.killed().is_none());
    drop(new);
    mm.shutdown();
    mm.validate().unwrap();
    assert_eq!(mm.free_pages(), mm.total_pages(), "every page free");
}

#[test]
fn after_a_power_cycle_new_enclaves_run_normally() {
    let (machine, mm) = system(64, false);
    let old = build(&machine, &mm, 1, 100, 1); // half of it evicted
    machine.power_cycle().unwrap();
    assert!(old.epc_lost());
    assert_eq!(epc_lost([&old]), 1);
    let err = reads_back(&old, 1, 100).unwrap_err();
    assert!(
        matches!(err, EnclaveError::Killed(KillReason::EpcLost)),
        "{err}"
    );
    assert_eq!(
        KillReason::EpcLost.to_string(),
        "EPC lost: the machine lost the EPC (suspend, hibernation or migration)"
    );
    drop(old);
    let new = build(&machine, &mm, 2, 100, 1);
    assert!(!new.epc_lost());
    assert_eq!(epc_lost([&new]), 0);
    reads_back(&new, 2, 100).unwrap();
    reads_back(&new, 2, 100).unwrap();
    assert!(new.counters().eldu > 0, "the new enclave pages");
    drop(new);
    mm.shutdown();
    mm.validate().unwrap();
    assert_eq!(mm.free_pages(), mm.total_pages());
    let _ = PAGE_SIZE;
}
