//! Returning a page to the free list (Linux's `sgx_free_epc_page`).

use crate::list::ListError;
use crate::manager::EpcManager;
use crate::page::{EpcPage, PageState};
use thiserror::Error;

/// A free the manager refused; the handle comes back with it.
#[derive(Debug, Error)]
pub enum FreeError {
    /// A reclaim batch holds the page: its owner's `block` or `write` will
    /// hand the handle back to the manager. Keep the handle there.
    #[error("{0:?} is being reclaimed")]
    Busy(EpcPage),
    /// The page is not allocated in this manager (a handle from another
    /// manager).
    #[error("{0:?} is not allocated in this manager")]
    NotAllocated(EpcPage),
}

impl EpcManager {
    /// Frees a page. The caller must already have made it invalid in the
    /// EPCM (EREMOVE), and must not be able to touch it any more. A page
    /// still on the reclaimable list is taken off it first.
    #[inline]
    pub fn free(&self, page: EpcPage) -> Result<(), FreeError> {
        let inner = &*self.inner;
        let s = &inner.shared;
        match s.states.get(page.id()) {
            PageState::InUse => {}
            // The holder of the handle is the only one who could move the
            // page off `InUse`, so only a tracked page needs the list lock.
            _ => match inner.reclaimable.unmark(page.id(), &s.states) {
                Ok(_) => {}
                Err(ListError::Busy) => return Err(FreeError::Busy(page)),
                Err(_) => return Err(FreeError::NotAllocated(page)),
            },
        }
        s.free.give(page.id(), &s.states);
        Ok(())
    }
}
