//! ENCLS leaves, the OS side of SGX: building enclaves (`lifecycle`),
//! paging them (`paging`) and changing them at run time (`edmm`, SGX2). Each leaf checks its operands in the order of the
//! SDM pseudocode and reports the first failure as a fault or an SGX error
//! code, leaving all state untouched; the ledger counts every call.

mod edmm;
mod lifecycle;
mod paging;
pub(crate) mod tcs;

pub use paging::Pcmd;
pub use paging::SealedPage;

use crate::cost::Event;
use crate::error::LeafResult;
use crate::Machine;

impl Machine {
    /// Counts a leaf: its own event on success, a failed leaf otherwise.
    fn account<T>(&self, event: Event, r: LeafResult<T>) -> LeafResult<T> {
        self.ledger
            .charge(if r.is_ok() { event } else { Event::FailedLeaf });
        r
    }
}
