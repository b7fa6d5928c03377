//! Unit tests of allocation, free, marking and each step of the reclaim
//! pipeline, against mock owners, with `validate()` after every step.

mod common;

use common::{det_manager, Call, MockOwner};
use epc_hw::{NodeId, SectionConfig};
use epc_mm::{
    AllocError, AllocMode, EpcManager, FreeError, ListError, ManagerConfig, PolicyKind,
    ReclaimPermit,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn ok(mgr: &EpcManager) {
    mgr.validate().expect("validate");
}

#[test]
fn alloc_free_and_exhaustion_without_reclaimable_pages() {
    let mgr = det_manager(4, 2);
    let pages: Vec<_> = (0..4)
        .map(|_| mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap())
        .collect();
    ok(&mgr);
    assert_eq!(mgr.free_pages(), 0);
    let mut permit = ReclaimPermit::new();
    assert_eq!(
        mgr.alloc(NodeId(0), AllocMode::Reclaim(&mut permit))
            .unwrap_err(),
        AllocError::NoMemory
    );
    for p in pages {
        mgr.free(p).unwrap();
    }
    ok(&mgr);
    let c = mgr.counters();
    assert_eq!(
        (c.free_pages, c.allocations, c.alloc_failures.no_memory),
        (4, 4, 1)
    );
}

#[test]
fn free_list_is_fifo_and_numa_local_first() {
    let cfg = ManagerConfig::new(vec![
        SectionConfig {
            pages: 2,
            node: NodeId(1),
        },
        SectionConfig {
            pages: 2,
            node: NodeId(0),
        },
        SectionConfig {
            pages: 1,
            node: NodeId(1),
        },
    ])
    .deterministic();
    let mgr = EpcManager::new(cfg).unwrap();
    let a = mgr.alloc(NodeId(1), AllocMode::NoReclaim).unwrap();
    assert_eq!(a.id().0, 0, "node 1's first section first");
    let b = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    assert_eq!(b.id().0, 2, "node 0's section");
    // Node 7 has no EPC: start at the next node, wrapping to node 0.
    let c = mgr.alloc(NodeId(7), AllocMode::NoReclaim).unwrap();
    assert_eq!(c.id().0, 3);
    // Node 0 is now empty: fall back to node 1.
    let d = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    assert_eq!(d.id().0, 1);
    mgr.free(a).unwrap();
    let e = mgr.alloc(NodeId(1), AllocMode::NoReclaim).unwrap();
    assert_eq!(e.id().0, 4, "free pushes the tail, alloc pops the head");
    for p in [b, c, d, e] {
        mgr.free(p).unwrap();
    }
    ok(&mgr);
    assert_eq!(
        mgr.free_pages_per_node(),
        vec![(NodeId(0), 2, 2), (NodeId(1), 3, 3)]
    );
}

#[test]
fn config_errors_name_the_field() {
    let mut cfg = ManagerConfig::with_pages(100);
    cfg.low_watermark = 64;
    let e = EpcManager::new(cfg.clone()).unwrap_err().to_string();
    assert!(e.starts_with("low_watermark:"), "{e}");
    cfg.low_watermark = 10;
    cfg.high_watermark = 101;
    let e = EpcManager::new(cfg.clone()).unwrap_err().to_string();
    assert!(e.starts_with("high_watermark:"), "{e}");
    cfg.high_watermark = 64;
    cfg.batch = 0;
    let e = EpcManager::new(cfg.clone()).unwrap_err().to_string();
    assert!(e.starts_with("batch:"), "{e}");
    // Deterministic mode does not use or check the watermarks.
    let mut det = ManagerConfig::with_pages(8).deterministic();
    det.low_watermark = 100;
    assert!(EpcManager::new(det).is_ok());
    let e = EpcManager::new(ManagerConfig::new(vec![]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("sections:"), "{e}");
}

#[test]
fn mark_unmark_and_busy_rules() {
    let mgr = det_manager(4, 4);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    ok(&mgr);
    {
        let pages = o.pages.lock();
        let p = &pages[&0x1000];
        assert_eq!(
            mgr.mark_reclaimable(p, o.key(0x1000), Arc::downgrade(&o) as _),
            Err(ListError::AlreadyMarked)
        );
        assert_eq!(mgr.unmark_reclaimable(p), Ok(true));
        assert_eq!(mgr.unmark_reclaimable(p), Ok(false));
        assert_eq!(mgr.counters().reclaimable_pages, 0);
        mgr.mark_reclaimable(p, o.key(0x1000), Arc::downgrade(&o) as _)
            .unwrap();
    }
    // A second page under the same key is refused.
    let q = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    assert!(matches!(
        mgr.mark_reclaimable(&q, o.key(0x1000), Arc::downgrade(&o) as _),
        Err(ListError::DuplicateKey(_))
    ));
    mgr.free(q).unwrap();
    // While the reclaimer holds the page, unmark and free say busy.
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = Arc::clone(&seen);
    *o.on_block.lock() = Some(Box::new(move |owner: &MockOwner, addr| {
        let pages = owner.pages.lock();
        assert_eq!(
            owner.mgr.unmark_reclaimable(&pages[&addr]),
            Err(ListError::Busy)
        );
        drop(pages);
        assert!(!owner.remove(addr), "free of an isolated page is refused");
        seen2.fetch_add(1, Ordering::SeqCst);
    }));
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!((r.isolated, r.evicted), (1, 1));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    ok(&mgr);
    assert_eq!(mgr.free_pages(), 4);
}

#[test]
fn free_of_a_marked_page_takes_it_off_the_list() {
    let mgr = det_manager(4, 4);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    o.add(0x2000, AllocMode::NoReclaim).unwrap();
    assert!(o.remove(0x1000));
    ok(&mgr);
    let c = mgr.counters();
    assert_eq!((c.free_pages, c.reclaimable_pages), (3, 1));
}

#[test]
fn batch_order_block_all_then_track_once_per_owner_then_write() {
    let mgr = det_manager(8, 8);
    let a = MockOwner::new(&mgr, 1);
    let b = MockOwner::new(&mgr, 2);
    for i in 0..3 {
        a.add(0x1000 * (i + 1), AllocMode::NoReclaim).unwrap();
        b.add(0x1000 * (i + 1), AllocMode::NoReclaim).unwrap();
    }
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!((r.isolated, r.evicted, r.scanned), (6, 6, 6));
    ok(&mgr);
    for o in [&a, &b] {
        let log = o.log.lock().clone();
        let blocks = log.iter().filter(|c| matches!(c, Call::Block(_))).count();
        let tracks = log.iter().filter(|c| **c == Call::Track).count();
        let writes = log.iter().filter(|c| matches!(c, Call::Write(_))).count();
        assert_eq!((blocks, tracks, writes), (3, 1, 3), "{log:?}");
        let t = log.iter().position(|c| *c == Call::Track).unwrap();
        assert!(log[..t].iter().all(|c| !matches!(c, Call::Write(_))));
        assert!(log[t..].iter().all(|c| !matches!(c, Call::Block(_))));
        assert_eq!(o.resident(), 0);
    }
    assert_eq!(mgr.free_pages(), 8);
    // Each write carries the proof of its own owner's one ETRACK: one epoch
    // per owner, distinct between owners.
    let (pa, pb) = (a.proofs.lock().clone(), b.proofs.lock().clone());
    assert!(pa
        .iter()
        .all(|t| t.owner() == a.id && t.epoch() == pa[0].epoch()));
    assert!(pb
        .iter()
        .all(|t| t.owner() == b.id && t.epoch() == pb[0].epoch()));
    assert_ne!(pa[0].epoch(), pb[0].epoch());
    // A later batch opens a later epoch.
    a.add(0x9000, AllocMode::NoReclaim).unwrap();
    mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert!(a.proofs.lock().last().unwrap().epoch() > pa[0].epoch().max(pb[0].epoch()));
}

#[test]
fn young_pages_get_a_second_chance() {
    let mgr = det_manager(8, 2);
    let o = MockOwner::new(&mgr, 1);
    for i in 1..=4 {
        o.add(0x1000 * i, AllocMode::NoReclaim).unwrap();
    }
    o.touch(0x1000);
    o.touch(0x3000);
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!((r.scanned, r.second_chances, r.evicted), (4, 2, 2));
    assert_eq!(*o.evicted.lock(), vec![0x2000, 0x4000]);
    ok(&mgr);
    let c = mgr.counters();
    assert_eq!((c.second_chances, c.pages_scanned, c.evicted), (2, 4, 2));
    assert_eq!(
        c.reclaimable_pages, 2,
        "the young pages are back on the list"
    );
}

#[test]
fn declined_pages_go_back_on_the_list_counted() {
    let mgr = det_manager(4, 4);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    o.add(0x2000, AllocMode::NoReclaim).unwrap();
    o.decline.lock().insert(0x1000);
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!((r.declined, r.evicted), (1, 1));
    ok(&mgr);
    let c = mgr.counters();
    assert_eq!((c.declined, c.reclaimable_pages, c.free_pages), (1, 1, 3));
    assert!(!o.log.lock().contains(&Call::Write(0x1000)));
    // Not declined any more: the next batch takes it.
    o.decline.lock().clear();
    assert_eq!(mgr.reclaim_batch(&mut ReclaimPermit::new()).evicted, 1);
    ok(&mgr);
}

#[test]
fn write_failure_frees_the_page_and_is_counted() {
    let mgr = det_manager(4, 4);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    o.add(0x2000, AllocMode::NoReclaim).unwrap();
    o.fail_write.lock().insert(0x1000);
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!((r.write_failures, r.evicted), (1, 1));
    ok(&mgr);
    let c = mgr.counters();
    assert_eq!(
        (c.write_failures, c.free_pages, c.reclaimable_pages),
        (1, 4, 0)
    );
}

#[test]
fn owner_going_away_is_skipped_and_left_to_teardown() {
    let mgr = det_manager(4, 4);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    let gone = MockOwner::new(&mgr, 2);
    gone.add(0x1000, AllocMode::NoReclaim).unwrap();
    // Its last strong reference is dropped: the Weak no longer upgrades.
    // (Its Drop frees the page, as enclave teardown does.)
    let weak = Arc::downgrade(&gone);
    let keep_handles = std::mem::take(&mut *gone.pages.lock());
    drop(gone);
    assert!(weak.upgrade().is_none());
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!((r.skipped, r.evicted), (1, 1));
    ok(&mgr);
    // The skipped page is untracked and still allocated: teardown frees it.
    for (_, page) in keep_handles {
        assert_eq!(mgr.unmark_reclaimable(&page), Ok(false));
        mgr.free(page).unwrap();
    }
    ok(&mgr);
    assert_eq!(mgr.free_pages(), 4);
    assert_eq!(mgr.counters().skipped, 1);
}

#[test]
fn owner_torn_down_mid_batch() {
    let mgr = det_manager(8, 8);
    let o = MockOwner::new(&mgr, 1);
    for i in 1..=4 {
        o.add(0x1000 * i, AllocMode::NoReclaim).unwrap();
    }
    o.add(0x9000, AllocMode::NoReclaim).unwrap();
    // While blocking its first page, the enclave is torn down: every page
    // of the batch is busy, so teardown leaves them and the owner abandons
    // each at block.
    let busy = Arc::new(AtomicUsize::new(usize::MAX));
    let busy2 = Arc::clone(&busy);
    *o.on_block.lock() = Some(Box::new(move |owner: &MockOwner, _| {
        if busy2.load(Ordering::SeqCst) == usize::MAX {
            busy2.store(owner.teardown(), Ordering::SeqCst);
        }
    }));
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!(busy.load(Ordering::SeqCst), 5, "all five were isolated");
    assert_eq!(
        (r.isolated, r.abandoned, r.skipped, r.evicted),
        (5, 5, 5, 0)
    );
    assert_eq!(o.resident(), 0);
    ok(&mgr);
    assert_eq!(mgr.free_pages(), 8);
}

#[test]
fn owner_reference_is_dropped_before_the_page_is_free() {
    let mgr = det_manager(2, 2);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    let free_at_drop = Arc::new(AtomicUsize::new(usize::MAX));
    let f = Arc::clone(&free_at_drop);
    let m = Arc::clone(&mgr);
    *o.on_drop.lock() = Some(Box::new(move || f.store(m.free_pages(), Ordering::SeqCst)));
    // The enclave's user lets go while the page is being blocked: the
    // pipeline's reference becomes the last one.
    let weak = Arc::downgrade(&o);
    let user = Arc::new(parking_lot::Mutex::new(None::<Arc<MockOwner>>));
    let user2 = Arc::clone(&user);
    *o.on_block.lock() = Some(Box::new(move |_, _| drop(user2.lock().take())));
    *user.lock() = Some(o);
    let r = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!(r.evicted, 1);
    assert!(weak.upgrade().is_none(), "the owner is gone");
    assert_eq!(
        free_at_drop.load(Ordering::SeqCst),
        1,
        "when the owner was dropped, its page was not free yet"
    );
    assert_eq!(mgr.free_pages(), 2);
    ok(&mgr);
}

#[test]
fn direct_reclaim_frees_a_batch() {
    let mut cfg = ManagerConfig::with_pages(64);
    cfg.low_watermark = 1;
    cfg.high_watermark = 2;
    cfg.batch = 4;
    // Linux's fixed watermarks: adaptive ones would rise after this direct
    // reclaim (up to an eighth of the EPC) and wake ksgxd.
    cfg.watermarks = epc_mm::Watermarks::Fixed;
    let mgr = Arc::new(EpcManager::new(cfg).unwrap());
    let o = MockOwner::new(&mgr, 1);
    // Allocate everything before marking anything, so no allocation finds
    // a reclaimable page to wake ksgxd for.
    let pages: Vec<_> = (0..64)
        .map(|_| mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap())
        .collect();
    for (i, p) in pages.into_iter().enumerate() {
        o.adopt(0x1000 * (i as u64 + 1), p);
    }
    let mut permit = ReclaimPermit::new();
    let p = mgr
        .alloc(NodeId(0), AllocMode::Reclaim(&mut permit))
        .unwrap();
    let c = mgr.counters();
    assert_eq!((c.direct_reclaims, c.evicted, c.free_pages), (1, 4, 3));
    assert_eq!(
        c.ksgxd_wakeups, 0,
        "3 free pages is not below the low watermark"
    );
    mgr.free(p).unwrap();
    ok(&mgr);
}

#[test]
fn nonreclaiming_alloc_is_busy_when_pages_are_reclaimable() {
    let mgr = det_manager(2, 2);
    let o = MockOwner::new(&mgr, 1);
    o.add(0x1000, AllocMode::NoReclaim).unwrap();
    o.add(0x2000, AllocMode::NoReclaim).unwrap();
    assert_eq!(
        mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap_err(),
        AllocError::Busy
    );
    assert_eq!(mgr.counters().alloc_failures.busy, 1);
    ok(&mgr);
}

#[test]
fn deterministic_alloc_reclaims_exactly_one_victim_in_clock_order() {
    let mgr = det_manager(4, 16);
    let o = MockOwner::new(&mgr, 1);
    for i in 1..=4 {
        o.add(0x1000 * i, AllocMode::NoReclaim).unwrap();
    }
    o.touch(0x1000);
    o.touch(0x2000);
    let mut permit = ReclaimPermit::new();
    let p = mgr
        .alloc(NodeId(0), AllocMode::Reclaim(&mut permit))
        .unwrap();
    assert_eq!(*o.evicted.lock(), vec![0x3000]);
    let c = mgr.counters();
    assert_eq!(
        (c.evicted, c.second_chances, c.free_pages, c.batches),
        (1, 2, 0, 1)
    );
    // Hand of the clock: 4, 1, 2 — 4 is old.
    let q = mgr
        .alloc(NodeId(0), AllocMode::Reclaim(&mut permit))
        .unwrap();
    assert_eq!(*o.evicted.lock(), vec![0x3000, 0x4000]);
    assert_eq!(
        mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap_err(),
        AllocError::Busy
    );
    mgr.free(p).unwrap();
    mgr.free(q).unwrap();
    ok(&mgr);
}

#[test]
fn fifo_policy_ignores_accessed_bits() {
    let mut cfg = ManagerConfig::with_pages(4).deterministic();
    cfg.policy = PolicyKind::from_name("fifo").unwrap();
    let mgr = Arc::new(EpcManager::new(cfg).unwrap());
    let o = MockOwner::new(&mgr, 1);
    for i in 1..=4 {
        o.add(0x1000 * i, AllocMode::NoReclaim).unwrap();
        o.touch(0x1000 * i);
    }
    let mut permit = ReclaimPermit::new();
    let p = mgr
        .alloc(NodeId(0), AllocMode::Reclaim(&mut permit))
        .unwrap();
    assert_eq!(*o.evicted.lock(), vec![0x1000]);
    assert!(!o.log.lock().iter().any(|c| matches!(c, Call::Age(_))));
    mgr.free(p).unwrap();
    ok(&mgr);
}

#[test]
fn shutdown_interrupts_allocation_but_not_free() {
    let mut cfg = ManagerConfig::with_pages(2);
    cfg.low_watermark = 0;
    cfg.high_watermark = 1;
    let mgr = EpcManager::new(cfg).unwrap();
    let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    let q = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    mgr.shutdown();
    mgr.shutdown();
    assert_eq!(
        mgr.alloc(NodeId(0), AllocMode::Reclaim(&mut ReclaimPermit::new()))
            .unwrap_err(),
        AllocError::Interrupted
    );
    assert_eq!(mgr.counters().alloc_failures.interrupted, 1);
    mgr.free(p).unwrap();
    mgr.free(q).unwrap();
    ok(&mgr);
}

#[test]
fn two_managers_side_by_side() {
    let a = det_manager(4, 4);
    let b = det_manager(8, 4);
    let p = a.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    assert_eq!((a.free_pages(), b.free_pages()), (3, 8));
    // A handle freed into the wrong manager is refused and comes back.
    let p = match b.free(p) {
        Err(FreeError::NotAllocated(p)) => p,
        other => panic!("{other:?}"),
    };
    a.free(p).unwrap();
    ok(&a);
    ok(&b);
}
