//! The reclaimable pages: the policy's list, the owner of each tracked page,
//! and the "tracked by the reclaimer" state, all changed together under one
//! lock (Linux's `sgx_reclaimer_lock`).
//!
//! The list lock is never held over an owner's block, track or write, over
//! a free-list lock, or while an owner reference might be dropped for the
//! last time (dropping an owner can run its teardown, which takes this
//! lock). The only owner code run under it is `PageOwner::age`.

use crate::owner::PageOwner;
use crate::page::{PageKey, PageState};
use crate::policy::ReclaimPolicy;
use crate::sync::{AtomicU8, AtomicUsize, Mutex, MutexGuard, Ordering};
use epc_hw::EpcPageId;
use rustc_hash::FxHashMap;
use std::sync::Weak;
use thiserror::Error;

/// The owner side of a tracked page.
pub(crate) struct Slot {
    pub(crate) key: PageKey,
    pub(crate) owner: Weak<dyn PageOwner>,
    /// The page was isolated and written out, and its owner has already
    /// brought the same key back on another page (a quick re-fault) before
    /// the batch finished: the policy has been told of the eviction and the
    /// key index names the new page, so the batch's finish must not touch
    /// either.
    pub(crate) superseded: bool,
}

/// State under the list lock.
pub(crate) struct ReclaimList {
    pub(crate) policy: Box<dyn ReclaimPolicy>,
    /// Per page: the owner of a tracked or isolated page.
    pub(crate) slots: Vec<Option<Slot>>,
    /// From key to page, for the keys the policy hands back.
    pub(crate) keys: FxHashMap<PageKey, EpcPageId>,
    /// Pages isolated by reclaim batches in flight.
    pub(crate) isolated: usize,
}

/// The list lock and the counts it publishes for lock-free readers
/// (watermark checks, "is anything reclaimable").
pub(crate) struct Reclaimable {
    lock: Mutex<ReclaimList>,
    nr_listed: AtomicUsize,
    nr_isolated: AtomicUsize,
}

impl Reclaimable {
    pub(crate) fn new(policy: Box<dyn ReclaimPolicy>, total_pages: usize) -> Self {
        let mut slots = Vec::with_capacity(total_pages);
        slots.resize_with(total_pages, || None);
        Reclaimable {
            lock: Mutex::new(ReclaimList {
                policy,
                slots,
                keys: FxHashMap::default(),
                isolated: 0,
            }),
            nr_listed: AtomicUsize::new(0),
            nr_isolated: AtomicUsize::new(0),
        }
    }

    /// Takes the list lock.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, ReclaimList> {
        self.lock.lock()
    }

    /// Publishes the counts; call before releasing the lock after a change.
    pub(crate) fn publish(&self, list: &ReclaimList) {
        self.nr_listed.store(list.policy.len(), Ordering::Relaxed);
        self.nr_isolated.store(list.isolated, Ordering::Relaxed);
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

    /// Puts an in-use page on the list.
    pub(crate) fn mark(
        &self,
        page: EpcPageId,
        key: PageKey,
        owner: Weak<dyn PageOwner>,
        states: &[AtomicU8],
    ) -> Result<(), ListError> {
        let mut list = self.lock();
        match PageState::from_u8(states[page.index()].load(Ordering::Relaxed)) {
            PageState::InUse => {}
            PageState::Tracked => return Err(ListError::AlreadyMarked),
            PageState::Isolated => return Err(ListError::Busy),
            PageState::Free => return Err(ListError::NotAllocated),
        }
        if let Some(&old) = list.keys.get(&key) {
            // The same key may come back while its previous page is still
            // isolated by a batch that has not finished: the owner handed
            // that page back as written, then faulted the key in again.
            // Account for the eviction now, so the policy sees the events in
            // their real order; anything else is a second page under one key.
            let old_state = PageState::from_u8(states[old.index()].load(Ordering::Relaxed));
            let old_slot = list.slots[old.index()].as_mut();
            match (old_state, old_slot) {
                (PageState::Isolated, Some(slot)) if !slot.superseded => {
                    slot.superseded = true;
                    list.keys.remove(&key);
                    list.policy.evicted(key);
                }
                _ => return Err(ListError::DuplicateKey(key)),
            }
        }
        list.slots[page.index()] = Some(Slot {
            key,
            owner,
            superseded: false,
        });
        list.keys.insert(key, page);
        list.policy.inserted(key);
        states[page.index()].store(PageState::Tracked as u8, Ordering::Relaxed);
        self.publish(&list);
        Ok(())
    }

    /// Takes a page off the list. `Ok(true)` if it was on it, `Ok(false)` if
    /// it was not (never marked, or already untracked because its owner was
    /// going away), `Busy` if a reclaim batch holds it.
    pub(crate) fn unmark(&self, page: EpcPageId, states: &[AtomicU8]) -> Result<bool, ListError> {
        let mut list = self.lock();
        match PageState::from_u8(states[page.index()].load(Ordering::Relaxed)) {
            PageState::Tracked => {}
            PageState::InUse => return Ok(false),
            PageState::Isolated => return Err(ListError::Busy),
            PageState::Free => return Err(ListError::NotAllocated),
        }
        let list = &mut *list;
        if let Some(slot) = list.slots[page.index()].take() {
            list.keys.remove(&slot.key);
            list.policy.removed(slot.key);
        }
        states[page.index()].store(PageState::InUse as u8, Ordering::Relaxed);
        self.publish(list);
        Ok(true)
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
