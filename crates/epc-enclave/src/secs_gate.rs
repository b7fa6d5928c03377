//! The handshake between faults and SECS eviction, which lets a fault
//! count itself as a child of a resident SECS without the enclave lock.
//!
//! The SECS may be written out only when no child page is in the EPC or on
//! its way in. A fault on the fast path announces itself first, then looks
//! at the SECS; the evictor (always under the enclave lock) hides the SECS
//! first, then looks at the children. Both steps are `SeqCst`, so in the
//! single order of the four accesses at least one side sees the other
//! (Dekker's argument): either the fault sees the SECS hidden, backs out
//! and takes the slow path (the enclave lock, behind the evictor), or the
//! evictor sees the child and puts the SECS back instead of writing it.
//! A fault that backs out may make an evictor give up for nothing: the SECS
//! then stays resident, which is always allowed.
//!
//! Every other change of the SECS's residency (reload, teardown) and every
//! other child count change happens under the enclave lock, where the
//! evictor cannot run.

use epc_hw::EpcPageId;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

/// No SECS to hand out: evicted, being evicted, or gone.
const HIDDEN: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct SecsGate {
    /// Child pages in the EPC or on their way in (resident, reclaiming,
    /// loading).
    children: AtomicUsize,
    /// The resident SECS's page, or `HIDDEN`.
    secs: AtomicU64,
}

impl SecsGate {
    pub(crate) fn new(secs: EpcPageId) -> SecsGate {
        SecsGate {
            children: AtomicUsize::new(0),
            secs: AtomicU64::new(u64::from(secs.0)),
        }
    }

    /// The fast path's entry: counts one more child and returns the SECS it
    /// may load under, which then stays resident until the child is
    /// uncounted; `None` (nothing counted) if the SECS is not plainly
    /// resident: take the enclave lock and look again.
    pub(crate) fn enter(&self) -> Option<EpcPageId> {
        self.children.fetch_add(1, SeqCst);
        match self.secs.load(SeqCst) {
            HIDDEN => {
                self.children.fetch_sub(1, SeqCst);
                None
            }
            id => Some(EpcPageId(id as u32)),
        }
    }

    /// One more child, under the enclave lock with the SECS resident.
    pub(crate) fn add_child(&self) {
        self.children.fetch_add(1, SeqCst);
    }

    /// One child fewer.
    pub(crate) fn remove_child(&self) {
        let before = self.children.fetch_sub(1, SeqCst);
        debug_assert!(before > 0, "child count underflow");
    }

    /// Under the enclave lock, with the SECS resident at `secs`: hides it
    /// if no child is counted, and returns whether it did (the caller then
    /// writes it out, or [`show`](Self::show)s it again if that fails).
    pub(crate) fn try_hide(&self, secs: EpcPageId) -> bool {
        if self.children.load(SeqCst) != 0 {
            return false;
        }
        self.secs.store(HIDDEN, SeqCst);
        if self.children.load(SeqCst) != 0 {
            // A fault counted itself meanwhile and may have seen the SECS.
            self.show(secs);
            return false;
        }
        true
    }

    /// Under the enclave lock: the SECS is resident at `secs`.
    pub(crate) fn show(&self, secs: EpcPageId) {
        self.secs.store(u64::from(secs.0), SeqCst);
    }

    /// Under the enclave lock: the SECS is going away for good (teardown).
    pub(crate) fn hide(&self) {
        self.secs.store(HIDDEN, SeqCst);
    }
}
