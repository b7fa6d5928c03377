//! Allocations that help ksgxd (the `assisted` watermarks; Linux's
//! allocation slow path below the `min` watermark, which reclaims directly
//! while kswapd works).
//!
//! Why: with more faulting threads than cores, ksgxd is one runnable
//! thread among many and gets its share of the CPU, not the half of it
//! that reclaim needs when every fault's ELDU needs an EWB. Starting it
//! earlier does not raise its rate; making the faulting threads wait for
//! it idles a core. So the faulting threads do their share of the reclaim,
//! in batches, before the free lists run dry instead of after:
//!
//! * an allocation that may reclaim (it holds the thread's
//!   [`ReclaimPermit`](crate::ReclaimPermit), so no owner lock) and finds
//!   fewer free pages than half the effective low watermark runs one
//!   reclaim batch of the configured size itself; the batch's pages go to
//!   the free lists, and the allocation then takes one as any other;
//! * at most one such batch is in flight per batch of pages short of that
//!   mark, so a few threads help and the others keep faulting;
//! * each assist raises the watermark boost as a direct reclaim does
//!   (ksgxd was behind: it starts earlier next time), so where ksgxd keeps
//!   up the mark stays low and assists stay rare.
//!
//! Nothing here blocks: a thread that finds every slot taken just takes a
//! page (or reclaims directly if none is left, as in every mode).

use crate::counters::bump;
use crate::inner::Inner;
use crate::permit::AllocMode;
use crate::sync::{AtomicUsize, Ordering};

/// Counts the assist batches in flight (see the module documentation).
#[derive(Debug)]
pub(crate) struct AssistGate {
    in_flight: AtomicUsize,
}

/// One assist batch's place in the gate; leaving it frees the place.
#[derive(Debug)]
pub(crate) struct AssistTicket<'a> {
    gate: &'a AssistGate,
}

impl AssistGate {
    pub(crate) fn new() -> Self {
        AssistGate {
            in_flight: AtomicUsize::new(0),
        }
    }

    /// A place if fewer than `allowed` batches are in flight.
    pub(crate) fn try_enter(&self, allowed: usize) -> Option<AssistTicket<'_>> {
        let mut cur = self.in_flight.load(Ordering::Relaxed);
        loop {
            if cur >= allowed {
                return None;
            }
            match self.in_flight.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(AssistTicket { gate: self }),
                Err(now) => cur = now,
            }
        }
    }

    /// Batches in flight now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

impl Drop for AssistTicket<'_> {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Inner {
    /// Whether an allocation in `mode` should first help ksgxd: the mode
    /// assists, the caller may reclaim, and fewer pages than the assist
    /// mark are free. The fast path's test: the configuration first, so
    /// the other modes (and the loom models, where every atomic access is
    /// a branch to explore) pay no atomic load for it.
    #[inline]
    pub(crate) fn should_assist(&self, mode: &AllocMode<'_>) -> bool {
        let s = &self.shared;
        !s.deterministic
            && s.marks.assists()
            && matches!(mode, AllocMode::Reclaim(_))
            && s.free.nr_free() < s.marks.assist_below()
    }

    /// Runs one assist batch if the gate has room for it; the freed pages
    /// are on the free lists when it returns. Only called with a
    /// [`AllocMode::Reclaim`] permit, so no owner lock is held.
    #[cold]
    pub(crate) fn assist(&self) {
        let s = &self.shared;
        if s.deterministic || self.ksgxd.is_stopping() {
            return;
        }
        let below = s.marks.assist_below();
        let free = s.free.nr_free();
        if free >= below {
            return;
        }
        let Some(_ticket) = self
            .ksgxd
            .helpers
            .try_enter((below - free).div_ceil(s.batch))
        else {
            return;
        };
        // ksgxd is behind: it starts earlier from now on.
        s.marks.on_direct_reclaim(s.free.allocations());
        let report = self.reclaim_global(s.batch);
        bump(&s.counters.assisted, 1);
        bump(&s.counters.assisted_evicted, report.evicted);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::AssistGate;

    #[test]
    fn the_gate_admits_at_most_the_allowed_batches_and_frees_places() {
        let g = AssistGate::new();
        let a = g.try_enter(2).expect("first place");
        let b = g.try_enter(2).expect("second place");
        assert!(g.try_enter(2).is_none(), "two in flight, two allowed");
        assert!(g.try_enter(0).is_none());
        let c = g.try_enter(3).expect("a larger deficit allows a third");
        assert_eq!(g.in_flight(), 3);
        drop(a);
        assert!(g.try_enter(2).is_none(), "still two in flight");
        drop((b, c));
        assert_eq!(g.in_flight(), 0);
        assert!(g.try_enter(1).is_some());
    }
}
