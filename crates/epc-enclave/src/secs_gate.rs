//! The handshake between faults and SECS eviction, which lets a fault
//! count itself as a child of a resident SECS without the enclave lock.
//!
//! The SECS may be written out only when no child page is in the EPC or on
//! its way in. One atomic word holds both the child count and a `HIDDEN`
//! bit: a fault on the fast path adds itself to the count and, in the same
//! read-modify-write, learns whether the SECS is hidden; the evictor
//! (always under the enclave lock) hides the SECS only by a
//! compare-and-swap from "no child, not hidden". So either the fault's
//! increment comes first and the evictor's swap fails (the SECS stays), or
//! the swap comes first and the fault sees `HIDDEN`, takes its increment
//! back and goes the slow way (the enclave lock, behind the evictor). No
//! ordering between two locations is involved, and the loom model
//! (`tests/gate_loom.rs`) checks it against this file.
//!
//! The SECS's page id is stored beside it, changed only while hidden and
//! under the enclave lock, and published by the read-modify-write that
//! shows the SECS again (every later increment reads from it).

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Release};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Release};

/// Set while the SECS is not plainly resident: evicted, being evicted, or
/// gone. The other bits count the children.
const HIDDEN: u64 = 1 << 63;

#[derive(Debug)]
pub(crate) struct SecsGate {
    /// `HIDDEN` and the child pages in the EPC or on their way in
    /// (resident, reclaiming, loading).
    state: AtomicU64,
    /// The resident SECS's EPC page id.
    secs: AtomicU64,
}

impl SecsGate {
    /// A gate for a resident SECS at page id `secs`.
    pub(crate) fn new(secs: u32) -> SecsGate {
        SecsGate {
            state: AtomicU64::new(0),
            secs: AtomicU64::new(u64::from(secs)),
        }
    }

    /// The fast path's entry: counts one more child and returns the SECS's
    /// page id, which then stays resident until the child is uncounted;
    /// `None` (nothing counted) if the SECS is not plainly resident: take
    /// the enclave lock and look again.
    pub(crate) fn enter(&self) -> Option<u32> {
        if self.state.fetch_add(1, AcqRel) & HIDDEN != 0 {
            self.state.fetch_sub(1, AcqRel);
            return None;
        }
        Some(self.secs.load(Acquire) as u32)
    }

    /// One more child, under the enclave lock with the SECS resident.
    pub(crate) fn add_child(&self) {
        self.state.fetch_add(1, AcqRel);
    }

    /// One child fewer.
    pub(crate) fn remove_child(&self) {
        let before = self.state.fetch_sub(1, AcqRel);
        debug_assert!(before & !HIDDEN > 0, "child count underflow");
    }

    /// Under the enclave lock, with the SECS resident: hides it if no
    /// child is counted, and returns whether it did (the caller then writes
    /// it out, or [`show`](Self::show)s it again if that fails).
    pub(crate) fn try_hide(&self) -> bool {
        self.state
            .compare_exchange(0, HIDDEN, AcqRel, Acquire)
            .is_ok()
    }

    /// Under the enclave lock: the SECS is resident at page id `secs`.
    pub(crate) fn show(&self, secs: u32) {
        self.secs.store(u64::from(secs), Release);
        self.state.fetch_and(!HIDDEN, AcqRel);
    }

    /// Under the enclave lock: the SECS is going away for good (teardown).
    pub(crate) fn hide(&self) {
        self.state.fetch_or(HIDDEN, AcqRel);
    }
}
