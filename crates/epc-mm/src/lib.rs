//! The EPC manager: the memory manager of the Linux SGX driver
//! (`arch/x86/kernel/cpu/sgx/main.c`), as a library over page owners.
//!
//! * Free pages sit on one FIFO list per NUMA node; [`EpcManager::alloc`]
//!   takes from the caller's node first, [`EpcManager::free`] returns a page.
//!   An allocated page is an [`EpcPage`] handle, which is not `Clone`.
//! * Pages in use can be marked reclaimable ([`EpcManager::mark_reclaimable`]);
//!   a [`ReclaimPolicy`] ([`Tide`], the project's own, by default; Linux's
//!   [`SecondChance`], [`Fifo`], [`Sieve`], [`ClockPro`] or Linux's MGLRU,
//!   [`Mglru`]) keeps them in
//!   order and picks victims.
//! * Victims are reclaimed in batches through their owners' [`PageOwner`]
//!   operations (age, block, track, write), by ksgxd between the low and high
//!   watermarks, or directly by an allocation that holds a [`ReclaimPermit`].
//! * In deterministic mode there is no ksgxd, and an allocation that finds
//!   nothing free reclaims exactly one victim inline.
//!
//! The manager knows nothing about enclaves. See `docs/epc-mm.md` for the
//! design: data structures, lock order, page states, the pipeline, and the
//! owner contract.

#![forbid(unsafe_code)]

mod alloc;
mod assist;
mod cgroup;
mod charge;
mod config;
mod counters;
mod free;
mod freelist;
mod group;
mod inner;
mod invariant;
mod ksgxd;
mod list;
mod manager;
mod nodes;
mod owner;
mod page;
mod permit;
mod poison;
mod policy;
mod reclaim;
mod reserve;
mod shared;
mod signal;
mod sync;
mod validate;
mod watermark;

pub use alloc::AllocError;
pub use charge::MAX_GROUPS;
pub use config::{
    ConfigError, ManagerConfig, DEFAULT_BATCH, DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK,
    MAX_PAGES,
};
pub use counters::{AllocFailures, Counters};
pub use free::FreeError;
pub use group::{GlobalFairness, GroupError, GroupId, GroupLimits, GroupStats};
pub use invariant::ValidateError;
pub use list::ListError;
pub use manager::{EpcManager, ManagerError};
pub use nodes::NodeCounters;
pub use owner::{BlockOutcome, PageOwner, Tracked, WriteOutcome};
pub use page::{EpcPage, OwnerId, PageKey};
pub use permit::{AllocMode, ReclaimPermit};
pub use poison::{MemoryFailure, PoisonError};
pub use policy::{
    ByKey, ClockPro, Fifo, KeyList, KeyLists, Mglru, PageKeys, PagePolicy, PolicyError, PolicyKind,
    PolicyVisitor, ReclaimPolicy, ScanReport, SecondChance, Sieve, Tide,
};
pub use reclaim::BatchReport;
pub use watermark::Watermarks;
