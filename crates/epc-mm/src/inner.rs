//! What a manager's users and ksgxd share: the [`Shared`] pool, the
//! reclaimable list, and ksgxd's signal. The public [`EpcManager`]
//! (`manager.rs`) holds it behind an `Arc`; allocation, free and ksgxd
//! work on it.
//!
//! [`EpcManager`]: crate::EpcManager

use crate::list::Reclaimable;
use crate::shared::Shared;
use crate::signal::KsgxdSignal;

/// See the module documentation.
pub(crate) struct Inner {
    pub(crate) shared: Shared,
    pub(crate) reclaimable: Reclaimable,
    pub(crate) ksgxd: KsgxdSignal,
}
