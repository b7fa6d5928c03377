//! ksgxd's watermarks, fixed or adaptive.
//!
//! Linux's ksgxd wakes below 32 free pages and stops at 64. When the
//! faulting threads consume pages faster than ksgxd's wake-up latency
//! allows, the free lists run dry and the faulting thread reclaims
//! directly, stalling for a whole batch. kswapd answers the same problem
//! with `watermark_scale_factor` (a wider band, sized to memory) and
//! watermark boosting (a temporary raise after a reclaim stall, given back
//! as kswapd catches up). The adaptive mode here does the same for the EPC:
//!
//! * each direct reclaim raises a *boost* by one step (the configured high
//!   watermark, at least one batch): the effective low watermark becomes
//!   `low + boost` (ksgxd starts earlier) and the high one
//!   `high + 2 × boost` (each wake-up reclaims more);
//! * the boost halves for every `window` allocations (a quarter of the
//!   EPC) that pass without a direct reclaim, so it decays when pressure
//!   stops;
//! * the effective high watermark never passes an eighth of the EPC (or the
//!   configured high watermark, if that is more): at most that share of
//!   the EPC is kept free for ksgxd's lead.
//!
//! In the adaptive modes ksgxd also works harder when it is behind; in the
//! throttled mode the faulting threads leave it the CPU to do so, and in
//! the assisted mode (the default) they help it (all only where the boost
//! can rise, so on a small EPC these modes stay the fixed one):
//!
//! * its batch is the deficit to the effective high watermark, at least
//!   the configured batch and at most [`MAX_BATCH_FACTOR`] times it: one
//!   policy scan, one ETRACK and one round of IPIs per enclave serve more
//!   pages;
//! * (throttled mode) below the configured low watermark, while ksgxd is
//!   reclaiming, an allocation that may reclaim waits for its next freed
//!   pages (at most 250 µs) before it takes one of the last free pages or
//!   reclaims directly: those pages are kept for allocations that cannot reclaim
//!   (as Linux keeps its `min` reserve for atomic allocations, and
//!   throttles direct reclaimers while kswapd restores it);
//! * (assisted mode) below half the effective low watermark, an allocation
//!   that may reclaim first runs one batch of the configured size itself,
//!   at most one such batch in flight per batch of pages short, and raises
//!   the boost as a direct reclaim does (`assist.rs`; Linux's `min`
//!   watermark, below which allocations reclaim while kswapd works).
//!
//! The boost is a pure function of the allocation count: one word holds the
//! boost and the allocation count when it was last raised, and the decay is
//! computed from how many allocations have passed since, so a test that
//! drives allocations sees the same watermarks every run. The allocation
//! fast path reads a cached effective low watermark, refreshed on every
//! raise and on every ksgxd batch.

use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use std::fmt;

/// How ksgxd's watermarks behave (a [`ManagerConfig`](crate::ManagerConfig)
/// field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Watermarks {
    /// Linux's: ksgxd starts below `low_watermark` and stops at
    /// `high_watermark`, always.
    Fixed,
    /// The configured watermarks are a floor: direct reclaims raise them,
    /// allocations without direct reclaim let them decay, and ksgxd's
    /// batch grows with its deficit (see `docs/epc-mm.md`).
    Adaptive,
    /// Adaptive, and below the configured low watermark an allocation that
    /// may reclaim waits for ksgxd's next freed pages while ksgxd reclaims
    /// (direct-reclaim throttling): ksgxd gets ahead more often and fewer
    /// faults reclaim directly, at a cost in latency, and in throughput
    /// where the faulting threads could have reclaimed on idle cores.
    Throttled,
    /// Adaptive, and an allocation that may reclaim and finds fewer free
    /// pages than half the effective low watermark (ksgxd was woken and
    /// fell behind) first runs one reclaim batch itself and puts the freed
    /// pages on the free lists, at most one such batch in flight per batch
    /// of pages short (`assist.rs`): the faulting threads share ksgxd's
    /// work before the free lists run dry rather than after. The default.
    #[default]
    Assisted,
}

impl Watermarks {
    /// The mode's name as scenarios and reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Watermarks::Fixed => "fixed",
            Watermarks::Adaptive => "adaptive",
            Watermarks::Throttled => "throttled",
            Watermarks::Assisted => "assisted",
        }
    }

    /// The mode named `name` (`fixed`, `adaptive`, `throttled` or
    /// `assisted`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fixed" => Some(Watermarks::Fixed),
            "adaptive" => Some(Watermarks::Adaptive),
            "throttled" => Some(Watermarks::Throttled),
            "assisted" => Some(Watermarks::Assisted),
            _ => None,
        }
    }
}

impl fmt::Display for Watermarks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest ksgxd batch in the adaptive mode, in configured batches.
pub(crate) const MAX_BATCH_FACTOR: usize = 4;

/// Halvings after which any boost is zero.
const MAX_HALVINGS: u64 = 32;

/// The controller (see the module documentation).
#[derive(Debug)]
pub(crate) struct WatermarkControl {
    mode: Watermarks,
    base_low: usize,
    base_high: usize,
    step: usize,
    max_boost: usize,
    window: u64,
    /// The boost (high 32 bits) and the low 32 bits of the allocation
    /// count when it was last raised.
    state: AtomicU64,
    /// Cached effective watermarks for the hot paths.
    low: AtomicUsize,
    high: AtomicUsize,
}

impl WatermarkControl {
    /// A controller over `low`/`high` for an EPC of `total` pages.
    pub(crate) fn new(
        mode: Watermarks,
        low: usize,
        high: usize,
        batch: usize,
        total: usize,
    ) -> Self {
        let cap_high = (total / 8).max(high);
        WatermarkControl {
            mode,
            base_low: low,
            base_high: high,
            step: high.max(batch).max(1),
            max_boost: (cap_high - high) / 2,
            window: (total as u64 / 4).max(1),
            state: AtomicU64::new(0),
            low: AtomicUsize::new(low),
            high: AtomicUsize::new(high),
        }
    }

    /// The configured mode.
    pub(crate) fn mode(&self) -> Watermarks {
        self.mode
    }

    /// The boost after `allocs` allocations, given the state word.
    fn decayed(&self, state: u64, allocs: u64) -> usize {
        let boost = (state >> 32) as usize;
        let since = u64::from((allocs as u32).wrapping_sub(state as u32));
        let halvings = since / self.window;
        if halvings >= MAX_HALVINGS {
            0
        } else {
            boost >> halvings
        }
    }

    /// The boost after `allocs` allocations.
    pub(crate) fn boost(&self, allocs: u64) -> usize {
        self.decayed(self.state.load(Ordering::Relaxed), allocs)
    }

    /// The effective `(low, high)` after `allocs` allocations.
    pub(crate) fn effective(&self, allocs: u64) -> (usize, usize) {
        let b = self.boost(allocs);
        (self.base_low + b, self.base_high + 2 * b)
    }

    /// A direct reclaim (or an assist) happened at allocation count
    /// `allocs`: raise the boost by one step (not in the fixed mode).
    pub(crate) fn on_direct_reclaim(&self, allocs: u64) {
        if self.mode == Watermarks::Fixed || self.max_boost == 0 {
            return;
        }
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let boost = (self.decayed(cur, allocs) + self.step).min(self.max_boost);
            let new = ((boost as u64) << 32) | u64::from(allocs as u32);
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.refresh(allocs);
    }

    /// Recomputes the cached watermarks at allocation count `allocs`; a
    /// boost decayed to nothing is cleared, so the 32-bit count cannot wrap
    /// back onto it.
    pub(crate) fn refresh(&self, allocs: u64) {
        if self.mode == Watermarks::Fixed {
            return;
        }
        let state = self.state.load(Ordering::Relaxed);
        let boost = self.decayed(state, allocs);
        if boost == 0 && state >> 32 != 0 {
            let _ = self
                .state
                .compare_exchange(state, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        self.low.store(self.base_low + boost, Ordering::Relaxed);
        self.high
            .store(self.base_high + 2 * boost, Ordering::Relaxed);
    }

    /// Whether the watermarks can move: any mode but the fixed one, on an
    /// EPC large enough for a boost.
    #[inline]
    fn adapts(&self) -> bool {
        self.mode != Watermarks::Fixed && self.max_boost > 0
    }

    /// ksgxd's next batch with `free` pages free: the configured `batch`,
    /// or where the watermarks adapt, the deficit to the effective high
    /// watermark within `batch ..= MAX_BATCH_FACTOR * batch`.
    pub(crate) fn ksgxd_batch(&self, free: usize, batch: usize) -> usize {
        if !self.adapts() {
            return batch;
        }
        self.high()
            .saturating_sub(free)
            .clamp(batch, MAX_BATCH_FACTOR * batch)
    }

    /// Below this many free pages an allocation that may reclaim waits for
    /// ksgxd while it reclaims: the configured low watermark in the
    /// throttled mode where the watermarks adapt, else 0 (never).
    #[inline]
    pub(crate) fn throttle_below(&self) -> usize {
        if self.mode == Watermarks::Throttled && self.adapts() {
            self.base_low
        } else {
            0
        }
    }

    /// Below this many free pages an allocation that may reclaim helps
    /// ksgxd with one batch (`assist.rs`): half the effective low
    /// watermark in the assisted mode where the watermarks adapt, else 0
    /// (never). ksgxd was woken at the effective low watermark, so a free
    /// count this far below it means ksgxd is behind.
    #[inline]
    pub(crate) fn assist_below(&self) -> usize {
        if self.assists() {
            self.low() / 2
        } else {
            0
        }
    }

    /// Whether allocations ever help ksgxd: the assisted mode where the
    /// watermarks adapt (a test of the configuration only).
    #[inline]
    pub(crate) fn assists(&self) -> bool {
        self.mode == Watermarks::Assisted && self.adapts()
    }

    /// The cached effective low watermark.
    #[inline]
    pub(crate) fn low(&self) -> usize {
        self.low.load(Ordering::Relaxed)
    }

    /// The cached effective high watermark.
    #[inline]
    pub(crate) fn high(&self) -> usize {
        self.high.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fixed_never_moves() {
        let c = WatermarkControl::new(Watermarks::Fixed, 32, 64, 16, 4096);
        c.on_direct_reclaim(10);
        assert_eq!(c.effective(10), (32, 64));
        assert_eq!((c.low(), c.high()), (32, 64));
    }

    #[test]
    fn raise_decay_and_cap() {
        let c = WatermarkControl::new(Watermarks::Adaptive, 32, 64, 16, 4096);
        c.on_direct_reclaim(100);
        assert_eq!(c.effective(100), (96, 192));
        assert_eq!((c.low(), c.high()), (96, 192));
        // One window (1024 allocations) without a direct reclaim halves it.
        assert_eq!(c.effective(100 + 1023), (96, 192));
        assert_eq!(c.effective(100 + 1024), (64, 128));
        // Capped: high at most 4096 / 8.
        for i in 0..20 {
            c.on_direct_reclaim(200 + i);
        }
        assert_eq!(c.effective(219), (32 + 224, 512));
        // Long quiet: back to the floor, and the state is cleared.
        c.refresh(219 + 1024 * 40);
        assert_eq!((c.low(), c.high()), (32, 64));
        assert_eq!(c.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn small_epc_stays_fixed() {
        let c = WatermarkControl::new(Watermarks::Adaptive, 32, 64, 16, 256);
        c.on_direct_reclaim(1);
        assert_eq!(c.effective(1), (32, 64));
        assert_eq!((c.ksgxd_batch(0, 16), c.throttle_below()), (16, 0));
    }

    #[test]
    fn batch_follows_the_deficit() {
        let fixed = WatermarkControl::new(Watermarks::Fixed, 32, 64, 16, 4096);
        assert_eq!((fixed.ksgxd_batch(0, 16), fixed.throttle_below()), (16, 0));
        let t = WatermarkControl::new(Watermarks::Throttled, 32, 64, 16, 4096);
        assert_eq!((t.ksgxd_batch(0, 16), t.throttle_below()), (64, 32));
        let c = WatermarkControl::new(Watermarks::Adaptive, 32, 64, 16, 4096);
        assert_eq!(c.throttle_below(), 0);
        // At the floor (high 64): the deficit, at least one batch.
        assert_eq!(c.ksgxd_batch(60, 16), 16);
        assert_eq!(c.ksgxd_batch(30, 16), 34);
        // Raised (high 192): at most four batches.
        c.on_direct_reclaim(100);
        assert_eq!(c.ksgxd_batch(150, 16), 42);
        assert_eq!(c.ksgxd_batch(0, 16), 64);
    }
}
