//! The reclaimable list as a unit (Linux's `sgx_epc_lru_list`): a policy's
//! order of the reclaimable pages, the owner of each tracked page, and the
//! page-state changes between `InUse`, `Tracked` and `Isolated`, all made
//! together under the list's own lock. Every operation on a list is a
//! method here: [`mark`](Reclaimable::mark) and
//! [`unmark`](Reclaimable::unmark) for owners (`mark.rs`);
//! [`isolate`](Reclaimable::isolate), [`put_back`](Reclaimable::put_back)
//! and [`finish`](Reclaimable::finish) for the reclaim pipeline
//! (`batch.rs`); [`audit`](Reclaimable::audit) for `validate()`
//! (`audit.rs`).
//!
//! The list lock is never held over an owner's block, track or write, over
//! a free-list lock, or while an owner reference might be dropped for the
//! last time (dropping an owner can run its teardown, which takes this
//! lock). The only owner code run under it is `PageOwner::age`.
//!
//! A manager may have many lists (one per group); each publishes its counts
//! for lock-free readers and adds its changes to the [`ListTotals`] all of
//! them share, so "anything reclaimable anywhere" stays one load.

mod audit;
mod batch;
mod mark;

pub(crate) use batch::Victim;

use crate::owner::PageOwner;
use crate::page::PageKey;
use crate::policy::ReclaimPolicy;
use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};
use epc_hw::EpcPageId;
use rustc_hash::FxHashMap;
use std::sync::Weak;
use thiserror::Error;

/// The owner side of a tracked page.
struct Slot {
    key: PageKey,
    owner: Weak<dyn PageOwner>,
    /// The page was isolated and written out, and its owner has already
    /// brought the same key back on another page (a quick re-fault) before
    /// the batch finished: the policy has been told of the eviction and the
    /// key index names the new page, so the batch's finish must not touch
    /// either.
    superseded: bool,
}

/// State under the list lock.
struct ReclaimList {
    policy: Box<dyn ReclaimPolicy>,
    /// The owner of each tracked or isolated page.
    slots: FxHashMap<EpcPageId, Slot>,
    /// From key to page, for the keys the policy hands back.
    keys: FxHashMap<PageKey, EpcPageId>,
    /// Pages isolated by reclaim batches in flight.
    isolated: usize,
}

/// Listed and isolated pages over every list of one manager, kept by the
/// lists as they publish.
#[derive(Debug, Default)]
pub(crate) struct ListTotals {
    listed: AtomicUsize,
    isolated: AtomicUsize,
}

impl ListTotals {
    /// Pages on any list (not counting isolated ones).
    #[inline]
    pub(crate) fn listed(&self) -> usize {
        self.listed.load(Ordering::Relaxed)
    }

    /// Pages isolated by batches in flight, over every list.
    #[inline]
    pub(crate) fn isolated(&self) -> usize {
        self.isolated.load(Ordering::Relaxed)
    }
}

/// One reclaimable list: its lock, and the counts it publishes for
/// lock-free readers (watermark and limit checks).
pub(crate) struct Reclaimable {
    lock: Mutex<ReclaimList>,
    nr_listed: AtomicUsize,
    nr_isolated: AtomicUsize,
    totals: Arc<ListTotals>,
}

impl Reclaimable {
    /// An empty list ordered by `policy`, counted in `totals`.
    pub(crate) fn new(policy: Box<dyn ReclaimPolicy>, totals: Arc<ListTotals>) -> Self {
        Reclaimable {
            lock: Mutex::new(ReclaimList {
                policy,
                slots: FxHashMap::default(),
                keys: FxHashMap::default(),
                isolated: 0,
            }),
            nr_listed: AtomicUsize::new(0),
            nr_isolated: AtomicUsize::new(0),
            totals,
        }
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, ReclaimList> {
        self.lock.lock()
    }

    /// Publishes the counts; called before releasing the lock after a
    /// change.
    fn publish(&self, list: &ReclaimList) {
        let listed = list.policy.len();
        let old = self.nr_listed.swap(listed, Ordering::Relaxed);
        if listed > old {
            self.totals
                .listed
                .fetch_add(listed - old, Ordering::Relaxed);
        } else if listed < old {
            self.totals
                .listed
                .fetch_sub(old - listed, Ordering::Relaxed);
        }
        let isolated = list.isolated;
        let old = self.nr_isolated.swap(isolated, Ordering::Relaxed);
        if isolated > old {
            self.totals
                .isolated
                .fetch_add(isolated - old, Ordering::Relaxed);
        } else if isolated < old {
            self.totals
                .isolated
                .fetch_sub(old - isolated, Ordering::Relaxed);
        }
    }

    /// Pages on the list (not counting isolated ones).
    #[inline]
    pub(crate) fn nr_listed(&self) -> usize {
        self.nr_listed.load(Ordering::Relaxed)
    }

    /// Pages isolated by batches in flight.
    #[inline]
    pub(crate) fn nr_isolated(&self) -> usize {
        self.nr_isolated.load(Ordering::Relaxed)
    }

    /// Replaces the policy with a fresh one; refused with
    /// [`ListError::Busy`] unless no page is on the list or isolated.
    pub(crate) fn replace_policy(&self, policy: Box<dyn ReclaimPolicy>) -> Result<(), ListError> {
        let mut list = self.lock();
        if !list.policy.is_empty() || list.isolated != 0 {
            return Err(ListError::Busy);
        }
        list.policy = policy;
        Ok(())
    }
}

/// A mark or unmark the list refuses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ListError {
    /// A reclaim batch holds the page (it is being reclaimed). Teardown skips
    /// it and keeps its handle for `block`/`write`; other callers retry.
    #[error("page is being reclaimed")]
    Busy,
    /// The page is already on the list.
    #[error("page is already marked reclaimable")]
    AlreadyMarked,
    /// Another tracked page has the same key.
    #[error("key {0:?} already names another reclaimable page")]
    DuplicateKey(PageKey),
    /// The page is free (a handle from another manager?).
    #[error("page is not allocated")]
    NotAllocated,
}
