//! The assisted watermarks (the default): below half the effective low
//! watermark an allocation that may reclaim runs one batch of the
//! configured size itself, frees no more than that, keeps one page and
//! leaves the rest free; allocations that may not reclaim, the other
//! modes, deterministic managers and small EPCs never assist.
//!
//! Deterministic: the owner declines every page ksgxd tries, so only the
//! test's own allocations reclaim; waits are bounded liveness checks.

mod common;

use common::{settle, MockOwner};
use epc_hw::NodeId;
use epc_mm::{AllocMode, EpcManager, ManagerConfig, ReclaimPermit, Watermarks};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const PAGES: u32 = 4096;

fn manager(pages: u32, mode: Watermarks, deterministic: bool) -> Arc<EpcManager> {
    let mut cfg = ManagerConfig::with_pages(pages);
    cfg.watermarks = mode;
    cfg.deterministic = deterministic;
    Arc::new(EpcManager::new(cfg).unwrap())
}

/// Every page allocated and marked (ksgxd, which declines, is never woken
/// by it), then `free` of them given back: `free` pages free, the rest
/// reclaimable.
fn fill_leaving(mgr: &Arc<EpcManager>, free: u64) -> Arc<MockOwner> {
    let o = MockOwner::new(mgr, 1);
    o.decline_ksgxd.store(true, Ordering::SeqCst);
    let total = mgr.total_pages() as u64;
    let pages: Vec<_> = (0..total)
        .map(|_| mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap())
        .collect();
    for (i, p) in pages.into_iter().enumerate() {
        o.adopt(0x1000 * (i as u64 + 1), p);
    }
    for i in 0..free {
        assert!(o.remove(0x1000 * (i + 1)));
    }
    assert_eq!(mgr.free_pages() as u64, free);
    o
}

#[test]
fn assisted_is_the_default_and_named_so() {
    assert_eq!(Watermarks::default(), Watermarks::Assisted);
    assert_eq!(
        Watermarks::from_name("assisted"),
        Some(Watermarks::Assisted)
    );
    assert_eq!(Watermarks::Assisted.name(), "assisted");
    let mgr = Arc::new(EpcManager::new(ManagerConfig::with_pages(PAGES)).unwrap());
    assert_eq!(mgr.counters().watermarks, Watermarks::Assisted);
}

#[test]
fn an_allocation_below_half_the_low_watermark_runs_one_batch_and_keeps_one_page() {
    let mgr = manager(PAGES, Watermarks::Assisted, false);
    let o = fill_leaving(&mgr, 10);
    // 10 free, under 32 / 2: one batch of 16, one page kept.
    let mut permit = ReclaimPermit::new();
    o.add(0x1000_0000, AllocMode::Reclaim(&mut permit)).unwrap();
    settle(&mgr);
    let c = mgr.counters();
    assert_eq!((c.assisted, c.assisted_evicted), (1, 16), "{c:?}");
    assert_eq!(c.evicted, 16, "never more than the batch: {c:?}");
    assert_eq!(c.direct_reclaims, 0, "the free lists never ran dry");
    assert_eq!(c.free_pages, 10 + 16 - 1);
    // ksgxd was behind: the boost rose as for a direct reclaim.
    assert_eq!((c.low_watermark, c.high_watermark), (96, 192));
    mgr.validate().unwrap();
}

#[test]
fn at_or_above_half_the_low_watermark_nothing_is_reclaimed() {
    let mgr = manager(PAGES, Watermarks::Assisted, false);
    let o = fill_leaving(&mgr, 16);
    let mut permit = ReclaimPermit::new();
    o.add(0x1000_0000, AllocMode::Reclaim(&mut permit)).unwrap();
    settle(&mgr);
    let c = mgr.counters();
    assert_eq!((c.assisted, c.evicted, c.free_pages), (0, 0, 15), "{c:?}");
    mgr.validate().unwrap();
}

#[test]
fn allocations_that_may_not_reclaim_never_assist() {
    let mgr = manager(PAGES, Watermarks::Assisted, false);
    let o = fill_leaving(&mgr, 10);
    for i in 0..10 {
        o.add(0x1000_0000 + 0x1000 * i, AllocMode::NoReclaim)
            .unwrap();
    }
    settle(&mgr);
    let c = mgr.counters();
    assert_eq!((c.assisted, c.evicted, c.free_pages), (0, 0, 0), "{c:?}");
    mgr.validate().unwrap();
}

#[test]
fn other_modes_deterministic_and_small_epcs_never_assist() {
    let cases = [
        (PAGES, Watermarks::Fixed, false),
        (PAGES, Watermarks::Adaptive, false),
        (PAGES, Watermarks::Throttled, false),
        (PAGES, Watermarks::Assisted, true),
        // Too small for a boost: the adaptive modes are the fixed one.
        (256, Watermarks::Assisted, false),
    ];
    for (pages, mode, deterministic) in cases {
        let mgr = manager(pages, mode, deterministic);
        let o = fill_leaving(&mgr, 10);
        let mut permit = ReclaimPermit::new();
        o.add(0x1000_0000, AllocMode::Reclaim(&mut permit)).unwrap();
        settle(&mgr);
        let c = mgr.counters();
        let case = format!("{pages} pages, {mode}, deterministic {deterministic}");
        assert_eq!((c.assisted, c.assisted_evicted), (0, 0), "{case}: {c:?}");
        if mode == Watermarks::Fixed {
            assert_eq!((c.low_watermark, c.high_watermark), (32, 64), "{case}");
        }
        assert_eq!((c.evicted, c.free_pages), (0, 9), "{case}: {c:?}");
        mgr.validate().unwrap();
    }
}
