//! Group reserves: pages charged to a group that none of its pages uses,
//! kept per (group, node) under the node's free-list lock, so that a
//! group's `alloc_in` + `free` cycle needs no atomic read-modify-write on
//! the group counters (memcg's per-CPU "stock", placed where this manager
//! already takes a lock).
//!
//! * A free of a page charged to group `g` keeps the charge: the page goes
//!   back to its node's free list and `g`'s reserve on that node grows by
//!   one, up to [`RESERVE_KEEP`] pages; beyond that the page is uncharged
//!   as before.
//! * An allocation in `g` first takes a page out of `g`'s reserve on the
//!   node it allocates from (one lock, the one the free list needs anyway);
//!   only without a reserve does it charge the counters (`try_charge`).
//! * A reserve is never created by charging ahead: the counters only grow
//!   by a page that is taken at once. So a group's counter (`Cell::current`,
//!   "charged") is its pages in use plus its subtree's reserves, and it
//!   never passes an effective limit: **limits stay exact**, and a page
//!   that is in use was always charged within the limit.
//! * A charge that meets a limit first drains the reserves of the subtree
//!   whose limit it met (they are charged but unused) and tries again; only
//!   then does it count an `events.max` and reclaim or fail. Lowering a
//!   limit and reclaiming a group down drain its subtree too.
//!
//! What the statistics say: `current` is the pages in use (charged less
//! the subtree's reserves, exact when nothing races); `peak` is the highest
//! pages in use (a charge that would raise the counter past the recorded
//! peak while reserves sit in the subtree drains them first, so the
//! counter never exceeds the peak by a reserve); `events.max` counts
//! charges refused with the reserves drained. `low` protection and the
//! "near the limit" test that queues background reclaim compare the
//! charged count, which is higher than the pages in use by at most the
//! subtree's reserves (16 pages per group and node).

use crate::inner::Inner;
use crate::sync::Ordering;

/// The most charged pages a group keeps in reserve on one node.
pub(crate) const RESERVE_KEEP: u32 = 16;

impl Inner {
    /// The pages held in reserve by `g` and its descendants, over every
    /// node.
    pub(crate) fn reserved_in(&self, g: usize) -> usize {
        let s = &self.shared;
        (0..self.groups.len())
            .filter(|&d| s.charges.is_ancestor(g, d))
            .map(|d| s.free.reserved(d))
            .sum()
    }

    /// Pages in use charged to `g` and its descendants (not the root).
    pub(crate) fn usage(&self, g: usize) -> usize {
        let charged = self.shared.charges.cell(g).current.load(Ordering::SeqCst);
        charged.saturating_sub(self.reserved_in(g))
    }

    /// Empties the reserves of `g`'s subtree and uncharges them; returns
    /// the pages uncharged.
    pub(crate) fn drain_subtree(&self, g: usize) -> usize {
        let s = &self.shared;
        let mut total = 0;
        for d in 0..self.groups.len() {
            if d != 0 && s.charges.is_ancestor(g, d) {
                let n = s.free.drain_reserve(d);
                if n > 0 {
                    s.charges.uncharge_n(d, n);
                    total += n;
                }
            }
        }
        total
    }

    /// After a charge to `g` succeeded: raises the peak of each level whose
    /// counter passed it, first draining that level's subtree if it holds
    /// reserves (so that the counter above the peak is pages in use).
    pub(crate) fn raise_peaks(&self, g: usize) {
        let charges = &self.shared.charges;
        let mut at = g;
        while at != 0 {
            let c = charges.cell(at);
            let mut now = c.current.load(Ordering::Relaxed);
            if now > c.peak.load(Ordering::Relaxed) {
                if self.reserved_in(at) > 0 {
                    self.drain_subtree(at);
                    now = c.current.load(Ordering::Relaxed);
                }
                // A charge that stays never leaves a level above its
                // limit, so a reading above it is another thread's charge
                // on its way to backing out (counted, then undone): it is
                // not a peak.
                let now = now.min(c.max.load(Ordering::Relaxed));
                c.peak.fetch_max(now, Ordering::Relaxed);
            }
            at = c.parent().unwrap_or(0);
        }
    }
}
