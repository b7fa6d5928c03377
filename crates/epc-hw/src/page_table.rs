//! The OS page table as the hardware's page walk sees it.
//!
//! A logical processor that misses its TLB asks the page table of the process
//! it runs in for the enclave page's translation, checks the EPCM, and sets
//! the accessed bit. The enclave layer implements this trait.

use crate::ids::{EpcPageId, LinearAddress};

/// One page-table entry: where an enclave page is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pte {
    /// The EPC page the linear page maps to.
    pub page: EpcPageId,
    /// Whether the mapping allows writes (the PTE's R/W bit).
    pub writable: bool,
}

/// The page walk's view of the OS page table.
///
/// # Contract
///
/// Both methods run on the access path of logical processors, which an IPI
/// waits for. They must not block on any lock that the OS may hold while it
/// sends an IPI (an enclave's lock, say): implement them with atomics or with
/// locks that are never held across an IPI. They must not call back into the
/// machine's leaves.
pub trait PageTable: Send + Sync {
    /// The mapping of the enclave page at `page` (page aligned), if any.
    fn translate(&self, page: LinearAddress) -> Option<Pte>;

    /// Sets the accessed bit of the mapping of `page`; called after a walk
    /// that passed the EPCM checks, before the TLB is filled.
    fn mark_accessed(&self, page: LinearAddress);
}
