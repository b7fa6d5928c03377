//! Memory failure: a poisoned page is never allocated again, whatever state
//! it was in (free, in use and listed, in use and unlisted, isolated by a
//! reclaim batch); every other page stays accounted for.

mod common;

use common::{det_manager, MockOwner};
use epc_hw::{EpcPageId, NodeId};
use epc_mm::{AllocError, AllocMode, EpcManager, MemoryFailure, PoisonError, ReclaimPermit};
use std::collections::HashSet;
use std::sync::Arc;

/// Allocates every page it can without reclaim; returns their ids.
fn drain(mgr: &EpcManager) -> Vec<epc_mm::EpcPage> {
    let mut v = Vec::new();
    while let Ok(p) = mgr.alloc(NodeId(0), AllocMode::NoReclaim) {
        v.push(p);
    }
    v
}

fn sums_up(mgr: &EpcManager) {
    mgr.validate().expect("validate");
    for n in mgr.nodes() {
        assert_eq!(
            n.total_pages,
            n.free_pages + n.in_use_pages + n.retired_pages,
            "{n:?}"
        );
        assert!(n.retired_pages <= n.poisoned_pages);
    }
}

#[test]
fn a_free_page_goes_to_the_poison_list_and_is_never_allocated() {
    let mgr = det_manager(8, 4);
    assert_eq!(mgr.memory_failure(EpcPageId(3)), Ok(MemoryFailure::Retired));
    assert_eq!(
        mgr.memory_failure(EpcPageId(3)),
        Ok(MemoryFailure::AlreadyPoisoned)
    );
    assert_eq!(
        mgr.memory_failure(EpcPageId(8)),
        Err(PoisonError::NotEpc(EpcPageId(8)))
    );
    assert!(mgr.is_poisoned(EpcPageId(3)));
    assert_eq!(mgr.poisoned_pages(), vec![EpcPageId(3)]);
    assert_eq!(mgr.free_pages(), 7);
    sums_up(&mgr);
    let pages = drain(&mgr);
    assert_eq!(pages.len(), 7);
    assert!(pages.iter().all(|p| p.id() != EpcPageId(3)));
    let n = &mgr.nodes()[0];
    assert_eq!(
        (n.poisoned_pages, n.retired_pages, n.in_use_pages),
        (1, 1, 7)
    );
    for p in pages {
        mgr.free(p).unwrap();
    }
    sums_up(&mgr);
    // Freed and allocated again, in every order: page 3 never comes back.
    for _ in 0..3 {
        let pages = drain(&mgr);
        assert!(pages.iter().all(|p| p.id() != EpcPageId(3)));
        for p in pages {
            mgr.free(p).unwrap();
        }
    }
    sums_up(&mgr);
}

#[test]
fn a_page_in_use_leaves_the_list_stays_with_its_owner_and_retires_when_freed() {
    let mgr = det_manager(8, 4);
    let owner = MockOwner::new(&mgr, 1);
    let ids: Vec<EpcPageId> = (0..4)
        .map(|a| owner.add(a, AllocMode::NoReclaim).unwrap())
        .collect();
    assert_eq!(mgr.counters().reclaimable_pages, 4);
    assert_eq!(mgr.memory_failure(ids[1]), Ok(MemoryFailure::Unlisted));
    assert_eq!(mgr.counters().reclaimable_pages, 3);
    assert_eq!(owner.resident(), 4, "left to its owner");
    sums_up(&mgr);
    // The reclaimer never picks it: reclaim everything reclaimable.
    let mut permit = ReclaimPermit::new();
    for _ in 0..8 {
        mgr.reclaim_batch(&mut permit);
    }
    assert_eq!(owner.resident(), 1);
    assert_eq!(owner.evicted.lock().len(), 3);
    assert!(!owner.evicted.lock().contains(&1));
    // The owner frees it: it goes to the poison list.
    assert!(owner.remove(1));
    assert!(mgr.is_poisoned(ids[1]));
    let n = mgr.nodes()[0];
    assert_eq!((n.retired_pages, n.free_pages), (1, 7));
    sums_up(&mgr);
}

#[test]
fn an_unlisted_page_in_use_retires_when_freed() {
    let mgr = det_manager(4, 4);
    let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    let id = p.id();
    assert_eq!(mgr.memory_failure(id), Ok(MemoryFailure::InUse));
    sums_up(&mgr);
    mgr.free(p).unwrap();
    sums_up(&mgr);
    let all = drain(&mgr);
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|p| p.id() != id));
    for p in all {
        mgr.free(p).unwrap();
    }
}

#[test]
fn a_page_the_reclaimer_isolated_retires_when_the_batch_hands_it_back() {
    let mgr = det_manager(8, 4);
    let owner = MockOwner::new(&mgr, 1);
    for a in 0..4 {
        owner.add(a, AllocMode::NoReclaim).unwrap();
    }
    // Poison page 2 while the batch holds it (in `block`); its write then
    // fails, as EWB of a poisoned page does, and the owner dies.
    let victim = owner.pages.lock()[&2].id();
    let m2 = Arc::clone(&mgr);
    let seen = Arc::new(parking_lot::Mutex::new(None));
    let seen2 = Arc::clone(&seen);
    *owner.on_block.lock() = Some(Box::new(move |o: &MockOwner, addr| {
        if addr == 2 {
            *seen2.lock() = Some(m2.memory_failure(victim));
            o.fail_write.lock().insert(2);
        }
    }));
    let mut permit = ReclaimPermit::new();
    for _ in 0..4 {
        mgr.reclaim_batch(&mut permit);
    }
    assert_eq!(*seen.lock(), Some(Ok(MemoryFailure::Isolated)));
    assert!(mgr.is_poisoned(victim));
    // The failed write's page went to the poison list, not the free list.
    let n = mgr.nodes()[0];
    assert_eq!(n.retired_pages, 1);
    drop(owner);
    sums_up(&mgr);
    let all = drain(&mgr);
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|p| p.id() != victim));
    let ids: HashSet<_> = all.iter().map(|p| p.id()).collect();
    assert_eq!(ids.len(), 7);
    for p in all {
        mgr.free(p).unwrap();
    }
    sums_up(&mgr);
}

#[test]
fn with_every_free_page_poisoned_allocation_finds_nothing() {
    let mgr = det_manager(3, 1);
    for p in 0..3 {
        mgr.memory_failure(EpcPageId(p)).unwrap();
    }
    assert_eq!(
        mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap_err(),
        AllocError::NoMemory
    );
    let n = mgr.nodes()[0];
    assert_eq!((n.free_pages, n.retired_pages, n.poisoned_pages), (0, 3, 3));
    sums_up(&mgr);
}

#[test]
fn poison_free_page_picks_a_free_page_and_never_an_allocated_one() {
    let mgr = det_manager(8, 4);
    let held = drain(&mgr);
    assert_eq!(mgr.poison_free_page(NodeId(0)), None, "nothing free");
    let held_ids: HashSet<EpcPageId> = held.iter().map(|p| p.id()).collect();
    for p in held.into_iter().take(3) {
        mgr.free(p).unwrap();
    }
    let a = mgr.poison_free_page(NodeId(0)).unwrap();
    let b = mgr.poison_free_page(NodeId(0)).unwrap();
    assert_ne!(a, b);
    assert!(held_ids.contains(&a) && mgr.is_poisoned(a) && mgr.is_poisoned(b));
    assert_eq!(mgr.free_pages(), 1);
    let n = &mgr.nodes()[0];
    assert_eq!((n.poisoned_pages, n.retired_pages), (2, 2));
    sums_up(&mgr);
    let rest = drain(&mgr);
    assert!(rest.iter().all(|p| p.id() != a && p.id() != b));
}

#[test]
fn poison_free_page_races_allocators_without_poisoning_a_page_in_use() {
    let mgr = Arc::new(det_manager(64, 16));
    let poisoned: Vec<EpcPageId> = std::thread::scope(|s| {
        for _ in 0..2 {
            let mgr = mgr.clone();
            s.spawn(move || {
                for _ in 0..2000 {
                    let pages = drain(&mgr);
                    // No page handed out is poisoned.
                    assert!(pages.iter().all(|p| !mgr.is_poisoned(p.id())));
                    for p in pages {
                        mgr.free(p).unwrap();
                    }
                }
            });
        }
        let mut got = Vec::new();
        while got.len() < 8 {
            if let Some(p) = mgr.poison_free_page(NodeId(0)) {
                got.push(p);
            }
            std::thread::yield_now();
        }
        got
    });
    let set: HashSet<EpcPageId> = poisoned.iter().copied().collect();
    assert_eq!(set.len(), 8);
    assert_eq!(mgr.free_pages(), 56);
    let n = &mgr.nodes()[0];
    assert_eq!((n.poisoned_pages, n.retired_pages), (8, 8));
    sums_up(&mgr);
}
