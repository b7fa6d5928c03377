//! Enclave-mode tracking (SDM §39.5.2): which logical processors are inside an
//! enclave, and the ETRACK cycles that EWB checks.
//!
//! Epochs number the ETRACK cycles: the n-th ETRACK opens cycle n and
//! snapshots the logical processors inside; each of them retires from the
//! snapshot at its first exit (EEXIT or AEX), and when the snapshot is empty
//! the cycle is complete. A page blocked while the epoch was `b` may be
//! written back once a cycle numbered above `b` has completed: every logical
//! processor that could have cached a translation before the EBLOCK has left
//! since, and any that entered later could not create one.

use crate::ids::LpId;
use parking_lot::{Mutex, MutexGuard};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

/// An enclave's [`Tracking`] behind its lock, with the completed epoch
/// mirrored in an atomic that the guard publishes before it unlocks, so
/// that EWB's "tracked?" check costs one load instead of a lock and an
/// unlock (issue 13 §3). The mirror only grows and is written under the
/// lock, so a reader that sees a value sees everything the exit or ETRACK
/// that completed the cycle did before it; one that misses a completion
/// that raced with it reports "not tracked", as a lock taken a moment
/// earlier would have.
#[derive(Debug, Default)]
pub(crate) struct TrackingCell {
    inner: Mutex<Tracking>,
    completed: AtomicU64,
}

impl TrackingCell {
    /// Locks the tracking state.
    #[inline]
    pub(crate) fn lock(&self) -> TrackingGuard<'_> {
        TrackingGuard {
            guard: self.inner.lock(),
            completed: &self.completed,
        }
    }

    /// [`Tracking::is_tracked`] without the lock.
    #[inline]
    pub(crate) fn is_tracked(&self, block_epoch: u64) -> bool {
        block_epoch < self.completed.load(Ordering::Acquire)
    }
}

/// The locked tracking state (see [`TrackingCell::lock`]).
pub(crate) struct TrackingGuard<'a> {
    guard: MutexGuard<'a, Tracking>,
    completed: &'a AtomicU64,
}

impl Deref for TrackingGuard<'_> {
    type Target = Tracking;

    #[inline]
    fn deref(&self) -> &Tracking {
        &self.guard
    }
}

impl DerefMut for TrackingGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Tracking {
        &mut self.guard
    }
}

impl Drop for TrackingGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Still under the lock: the mirror never goes backwards.
        self.completed
            .store(self.guard.completed, Ordering::Release);
    }
}

/// Tracking state of one enclave.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tracking {
    /// Logical processors currently in enclave mode in this enclave.
    inside: Vec<LpId>,
    /// Number of ETRACKs issued: the epoch of the newest cycle.
    epoch: u64,
    /// The newest epoch whose cycle has completed.
    completed: u64,
    /// Logical processors of the open cycle that have not exited since.
    pending: Vec<LpId>,
}

impl Tracking {
    /// The current epoch, recorded by EBLOCK.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// ETRACK: opens a new cycle, or refuses while the previous is open.
    pub(crate) fn etrack(&mut self) -> Result<(), PrevIncomplete> {
        if !self.pending.is_empty() {
            return Err(PrevIncomplete);
        }
        self.epoch += 1;
        self.pending.clone_from(&self.inside);
        if self.pending.is_empty() {
            self.completed = self.epoch;
        }
        Ok(())
    }

    /// Whether a page blocked at `block_epoch` has been tracked.
    pub(crate) fn is_tracked(&self, block_epoch: u64) -> bool {
        block_epoch < self.completed
    }

    /// A logical processor enters (EENTER, ERESUME).
    pub(crate) fn enter(&mut self, lp: LpId) {
        debug_assert!(!self.inside.contains(&lp));
        self.inside.push(lp);
    }

    /// A logical processor exits (EEXIT, AEX).
    pub(crate) fn exit(&mut self, lp: LpId) {
        if let Some(i) = self.inside.iter().position(|&l| l == lp) {
            self.inside.swap_remove(i);
        }
        if let Some(i) = self.pending.iter().position(|&l| l == lp) {
            self.pending.swap_remove(i);
            if self.pending.is_empty() {
                self.completed = self.epoch;
            }
        }
    }

    /// The logical processors inside.
    pub(crate) fn inside(&self) -> &[LpId] {
        &self.inside
    }

    /// Checks the internal invariants; returns a description of the first
    /// one broken.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.completed > self.epoch {
            return Err(format!(
                "completed epoch {} after current {}",
                self.completed, self.epoch
            ));
        }
        if !self.pending.is_empty() && self.completed == self.epoch {
            return Err("a cycle is both open and complete".into());
        }
        if let Some(lp) = self.pending.iter().find(|lp| !self.inside.contains(lp)) {
            return Err(format!("{lp:?} is pending in a cycle but not inside"));
        }
        Ok(())
    }
}

/// ETRACK found the previous cycle still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrevIncomplete;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_completes_when_snapshot_exits() {
        let mut t = Tracking::default();
        t.enter(LpId(1));
        t.enter(LpId(2));
        let blocked_at = t.epoch();
        assert!(!t.is_tracked(blocked_at));
        t.etrack().unwrap();
        assert_eq!(t.etrack(), Err(PrevIncomplete));
        t.exit(LpId(1));
        t.enter(LpId(3)); // entered after ETRACK: not waited for
        assert!(!t.is_tracked(blocked_at));
        t.exit(LpId(2));
        assert!(t.is_tracked(blocked_at));
        t.check().unwrap();
        // A page blocked now needs another cycle.
        assert!(!t.is_tracked(t.epoch()));
        t.etrack().unwrap();
        t.exit(LpId(3));
        assert!(t.is_tracked(1));
    }

    #[test]
    fn empty_enclave_tracks_at_once() {
        let mut t = Tracking::default();
        t.etrack().unwrap();
        assert!(t.is_tracked(0));
        t.etrack().unwrap();
    }

    #[test]
    fn the_cell_mirrors_the_completed_epoch() {
        let c = TrackingCell::default();
        c.lock().enter(LpId(1));
        let blocked_at = c.lock().epoch();
        c.lock().etrack().unwrap();
        assert!(!c.is_tracked(blocked_at), "LP 1 has not exited");
        c.lock().exit(LpId(1));
        assert!(c.is_tracked(blocked_at));
        assert!(!c.is_tracked(c.lock().epoch()));
    }
}
