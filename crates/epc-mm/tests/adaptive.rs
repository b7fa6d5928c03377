//! Adaptive watermarks: direct reclaims raise the effective low and high
//! watermarks (up to an eighth of the EPC), allocations without direct
//! reclaim let them decay back to the configured ones, ksgxd refills up to
//! the raised high watermark, and `Watermarks::Fixed` keeps Linux's 32/64.
//!
//! Deterministic: the boost is a function of the allocation count, and the
//! owner declines every page ksgxd tries where ksgxd must not help, so
//! only the test's own allocations reclaim. Waits are bounded liveness
//! checks, not timing assertions.

mod common;

use common::{settle, wait_until, MockOwner};
use epc_hw::NodeId;
use epc_mm::{AllocMode, EpcManager, ManagerConfig, ReclaimPermit, Watermarks};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const PAGES: u32 = 4096;

fn manager(mode: Watermarks) -> Arc<EpcManager> {
    let mut cfg = ManagerConfig::with_pages(PAGES);
    cfg.watermarks = mode;
    Arc::new(EpcManager::new(cfg).unwrap())
}

fn marks(mgr: &EpcManager) -> (u64, u64) {
    let c = mgr.counters();
    (c.low_watermark, c.high_watermark)
}

#[test]
fn direct_reclaims_raise_the_watermarks_up_to_the_cap_and_quiet_lets_them_decay() {
    let mgr = manager(Watermarks::Adaptive);
    let o = MockOwner::new(&mgr, 1);
    o.decline_ksgxd.store(true, Ordering::SeqCst);
    let c = mgr.counters();
    assert_eq!(c.watermarks, Watermarks::Adaptive);
    assert_eq!(
        (c.low_watermark, c.high_watermark, c.watermark_boost),
        (32, 64, 0)
    );
    // Fill the EPC: ksgxd wakes below 32 free pages but frees nothing.
    for i in 0..u64::from(PAGES) {
        o.add(0x1000 * (i + 1), AllocMode::NoReclaim).unwrap();
    }
    assert_eq!(mgr.free_pages(), 0);
    assert_eq!(mgr.counters().direct_reclaims, 0);
    assert_eq!(marks(&mgr), (32, 64), "no direct reclaim, no boost");

    // One direct reclaim: one step (the configured high watermark, 64).
    let mut permit = ReclaimPermit::new();
    let mut addr = 0x1000 * (u64::from(PAGES) + 1);
    o.add(addr, AllocMode::Reclaim(&mut permit)).unwrap();
    let c = mgr.counters();
    assert_eq!(c.direct_reclaims, 1);
    assert_eq!(
        (c.low_watermark, c.high_watermark, c.watermark_boost),
        (96, 192, 64)
    );

    // More direct reclaims: the boost reaches its cap, where the high
    // watermark is an eighth of the EPC.
    let mut raised_at = 0;
    while mgr.counters().direct_reclaims < 6 {
        addr += 0x1000;
        let before = mgr.counters().direct_reclaims;
        o.add(addr, AllocMode::Reclaim(&mut permit)).unwrap();
        let c = mgr.counters();
        if c.direct_reclaims > before {
            // Raised at the allocation count before this allocation's take.
            raised_at = c.allocations - 1;
        }
    }
    let cap = u64::from(PAGES) / 8;
    assert_eq!(marks(&mgr), (32 + (cap - 64) / 2, cap));

    // Quiet: allocations that find pages free. The boost halves for every
    // quarter of the EPC allocated without a direct reclaim.
    for _ in 0..64 {
        addr -= 0x1000;
        assert!(o.remove(addr));
    }
    let window = u64::from(PAGES) / 4;
    let churn = |until: u64| {
        while mgr.counters().allocations < until {
            let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
            mgr.free(p).unwrap();
        }
    };
    churn(raised_at + window - 1);
    assert_eq!(marks(&mgr), (32 + 224, 512), "not yet a whole window");
    churn(raised_at + window);
    assert_eq!(marks(&mgr), (32 + 112, 64 + 224));
    churn(raised_at + 3 * window);
    assert_eq!(marks(&mgr), (32 + 28, 64 + 56));
    churn(raised_at + 8 * window);
    let c = mgr.counters();
    assert_eq!(
        (c.low_watermark, c.high_watermark, c.watermark_boost),
        (32, 64, 0)
    );
    assert_eq!(c.direct_reclaims, 6, "the quiet phase reclaimed nothing");
    mgr.validate().unwrap();
}

/// Fills the EPC with pages the owner holds unmarked (ksgxd has nothing to
/// reclaim, so it is never woken), then marks them all.
fn fill_then_mark(mgr: &Arc<EpcManager>, o: &MockOwner) {
    let pages: Vec<_> = (0..PAGES)
        .map(|_| mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap())
        .collect();
    for (i, p) in pages.into_iter().enumerate() {
        o.adopt(0x1000 * (i as u64 + 1), p);
    }
    assert_eq!(mgr.counters().ksgxd_wakeups, 0);
}

#[test]
fn ksgxd_refills_up_to_the_raised_high_watermark() {
    let mgr = manager(Watermarks::Adaptive);
    let o = MockOwner::new(&mgr, 1);
    fill_then_mark(&mgr, &o);
    let mut permit = ReclaimPermit::new();
    o.add(0x1000_0000, AllocMode::Reclaim(&mut permit)).unwrap();
    // The direct reclaim raised the watermarks to 96/192 and left 15 pages
    // free: ksgxd wakes and reclaims until 192 are free.
    wait_until("ksgxd reaches the raised high watermark", || {
        mgr.free_pages() >= 192
    });
    settle(&mgr);
    let c = mgr.counters();
    assert_eq!(c.direct_reclaims, 1);
    assert_eq!((c.low_watermark, c.high_watermark), (96, 192));
    assert!(c.free_pages >= 192 && c.free_pages < 192 + 16, "{c:?}");
    mgr.validate().unwrap();
}

#[test]
fn fixed_watermarks_stay_at_linux_32_64() {
    let mgr = manager(Watermarks::Fixed);
    let o = MockOwner::new(&mgr, 1);
    fill_then_mark(&mgr, &o);
    let mut permit = ReclaimPermit::new();
    o.add(0x1000_0000, AllocMode::Reclaim(&mut permit)).unwrap();
    wait_until("ksgxd reaches the high watermark", || {
        mgr.free_pages() >= 64
    });
    settle(&mgr);
    let c = mgr.counters();
    assert_eq!(c.watermarks, Watermarks::Fixed);
    assert_eq!(c.direct_reclaims, 1);
    assert_eq!(
        (c.low_watermark, c.high_watermark, c.watermark_boost),
        (32, 64, 0)
    );
    assert!(c.free_pages >= 64 && c.free_pages < 64 + 16, "{c:?}");
    mgr.validate().unwrap();
}
