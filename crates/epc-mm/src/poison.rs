//! Memory failure (Linux's `arch_memory_failure`, v5.17): the platform
//! reports an uncorrectable error in an EPC page, and the manager makes sure
//! the page is never handed out again.
//!
//! * A free page moves from its node's free list to the node's poison list
//!   at once.
//! * A page in use is taken off the reclaimable list (so the reclaimer never
//!   picks it, and never tries to write out contents that are lost) and
//!   left to its owner, which learns of the failure when its enclave next
//!   reads the page (a machine check) and frees it; the free then puts it on
//!   the poison list. A page a reclaim batch holds at that moment stays
//!   with the batch; its write fails (EWB consumes the poison) and the page
//!   goes to the poison list when the batch frees it.
//!
//! The manager does not touch the hardware: the caller poisons the page in
//! the machine model too (the platform's part), then calls
//! [`EpcManager::memory_failure`] (the OS's part).

use crate::freelist::Poisoned;
use crate::list::ListError;
use crate::manager::EpcManager;
use epc_hw::{EpcPageId, NodeId};
use thiserror::Error;

/// What [`EpcManager::memory_failure`] did with the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryFailure {
    /// The page was free: it is on its node's poison list now.
    Retired,
    /// The page is in use and was on the reclaimable list: it is off the
    /// list, left to its owner, and goes to the poison list when freed.
    Unlisted,
    /// The page is in use and was not on the reclaimable list (a SECS, a VA
    /// page, a pinned page): left to its owner, poison list when freed.
    InUse,
    /// A reclaim batch holds the page: the batch hands it back (its write
    /// fails on the poison) and it goes to the poison list then.
    Isolated,
    /// The page had been reported before; nothing changed.
    AlreadyPoisoned,
}

/// A memory failure the manager cannot act on.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum PoisonError {
    /// The address is not an EPC page of this manager (Linux's
    /// `arch_is_platform_page` says no, and the failure is left to the
    /// rest of the kernel).
    #[error("{0:?} is not an EPC page of this manager")]
    NotEpc(EpcPageId),
}

impl EpcManager {
    /// Handles a memory failure in `page` as Linux does: the page is never
    /// allocated again. See the module documentation for what happens to a
    /// page in use.
    pub fn memory_failure(&self, page: EpcPageId) -> Result<MemoryFailure, PoisonError> {
        let s = &self.inner.shared;
        if !s.free.covers(page) {
            return Err(PoisonError::NotEpc(page));
        }
        match s.free.poison(page, || s.states.get(page)) {
            Poisoned::Already => Ok(MemoryFailure::AlreadyPoisoned),
            Poisoned::WasFree => Ok(MemoryFailure::Retired),
            Poisoned::InUse => Ok(match self.unmark_page(page) {
                Ok(true) => MemoryFailure::Unlisted,
                Ok(false) => MemoryFailure::InUse,
                Err(ListError::Busy) => MemoryFailure::Isolated,
                // Freed between the two steps: `give` retired it.
                Err(_) => MemoryFailure::Retired,
            }),
        }
    }

    /// A memory failure in a free page the manager picks: the last page of
    /// the free list of `preferred` (or of the next node with a free page,
    /// in allocation order) goes to the poison list at once, under the
    /// node's lock, so it cannot be handed out in between as a page picked
    /// from outside could. Returns the page (`None`: nothing is free); the
    /// caller then poisons it in the machine too (the platform's part,
    /// done second here, which no one can observe since the page is never
    /// handed out again).
    pub fn poison_free_page(&self, preferred: NodeId) -> Option<EpcPageId> {
        self.inner.shared.free.poison_a_free_page(preferred)
    }

    /// Every page a memory failure named, in page order.
    pub fn poisoned_pages(&self) -> Vec<EpcPageId> {
        let mut v: Vec<EpcPageId> = self
            .inner
            .shared
            .free
            .lock_all()
            .iter()
            .flat_map(|(_, l, _)| l.poisoned.clone())
            .collect();
        v.sort();
        v
    }

    /// Whether a memory failure named `page`.
    pub fn is_poisoned(&self, page: EpcPageId) -> bool {
        let free = &self.inner.shared.free;
        free.covers(page) && free.is_poisoned(page)
    }
}
