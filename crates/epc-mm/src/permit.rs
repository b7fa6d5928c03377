//! How a caller asks to allocate, and the token that allows reclaiming.

use std::marker::PhantomData;

/// A per-thread token that allows direct reclaim.
///
/// **The rule:** direct reclaim runs the owners' reclaim operations, which
/// take owner (enclave) locks, so it must never run while the caller holds
/// an owner's lock. The enclave layer makes its lock guards borrow the
/// thread's permit mutably for as long as they live; reclaiming needs
/// `&mut ReclaimPermit` too, so the borrow checker refuses to reclaim while
/// a guard is alive. Create one permit per thread and keep it in the
/// thread's context; do not create permits ad hoc under a lock.
///
/// The permit is neither `Send` nor `Sync`, so it stays on its thread.
#[derive(Debug, Default)]
pub struct ReclaimPermit {
    _not_send: PhantomData<*const ()>,
}

impl ReclaimPermit {
    /// A permit for the current thread.
    pub fn new() -> Self {
        ReclaimPermit::default()
    }
}

/// Whether an allocation may reclaim when nothing is free.
#[derive(Debug)]
pub enum AllocMode<'a> {
    /// Never reclaim: if nothing is free, wake ksgxd and return
    /// [`AllocError::Busy`](crate::AllocError::Busy). For callers that hold
    /// a lock the reclaim operations take (the fault path under the
    /// enclave lock); they release it and retry.
    NoReclaim,
    /// Reclaim directly if nothing is free. The permit proves no owner lock
    /// is held (see [`ReclaimPermit`]).
    Reclaim(&'a mut ReclaimPermit),
}
