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
//! What a tracked page costs (issue 13, §5): its entry in the manager's
//! per-page [`ListSlots`] (12 bytes: the key's address and an owner index,
//! `slots.rs`), a page id in its list's [`KeyIndex`] (`index.rs`), and its
//! owner's entry in the list's [`Owners`] table, shared by all the owner's
//! pages (`owners.rs`); beside the policy's own state, which the list keeps
//! small by driving the policy by page ([`PagePolicy`]): a built-in policy
//! then keeps a 12-byte per-page entry and neither the key nor a map of
//! its own, and asks the list (`ListKeys`) for the rest.
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
mod index;
mod mark;
mod owners;
mod slots;

pub(crate) use batch::Victim;

use crate::page::PageKey;
use crate::policy::{PageKeys, PagePolicy, ReclaimPolicy};
use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};
use epc_hw::EpcPageId;
use index::KeyIndex;
use owners::Owners;
use slots::ListSlots;
use thiserror::Error;

/// State under the list lock.
struct ReclaimList {
    /// Driven by page: a built-in policy keeps its per-page state in a
    /// per-page entry rather than by key (see `policy::PagePolicy`).
    policy: Box<dyn PagePolicy>,
    /// The owners of the tracked and isolated pages.
    owners: Owners,
    /// From key to page, for the keys the policy hands back: every tracked
    /// or isolated page but the superseded ones.
    index: KeyIndex,
    /// Isolated pages whose key came back on another page before their
    /// batch finished (see `slots::Slot::superseded`); rare and few.
    superseded: Vec<EpcPageId>,
    /// Pages isolated by reclaim batches in flight.
    isolated: usize,
}

/// The key of `page`, tracked or isolated on the list whose `owners` table
/// is given; `None` if its entry names no owner there.
#[inline]
fn key_of(slots: &ListSlots, owners: &Owners, page: EpcPageId) -> Option<PageKey> {
    let slot = slots.get(page);
    Some(PageKey::new(owners.id(slot.owner)?, slot.addr))
}

/// The list's answers to a policy's questions about keys and pages: the
/// key index and the page entries.
struct ListKeys<'a> {
    slots: &'a ListSlots,
    owners: &'a Owners,
    index: &'a KeyIndex,
}

impl PageKeys for ListKeys<'_> {
    fn page(&self, key: PageKey) -> Option<u32> {
        self.index
            .find(index::hash(key), key, |p| {
                key_of(self.slots, self.owners, p)
            })
            .map(|p| p.0)
    }

    fn key(&self, page: u32) -> Option<PageKey> {
        key_of(self.slots, self.owners, EpcPageId(page))
    }
}

/// What every list of one manager shares: the listed and isolated pages
/// over all of them, kept by the lists as they publish, and the list entry
/// of every page.
#[derive(Debug)]
pub(crate) struct ListTotals {
    listed: AtomicUsize,
    isolated: AtomicUsize,
    slots: ListSlots,
}

impl ListTotals {
    /// Nothing listed, over an EPC of `total` pages.
    pub(crate) fn new(total: usize) -> Self {
        ListTotals {
            listed: AtomicUsize::new(0),
            isolated: AtomicUsize::new(0),
            slots: ListSlots::new(total),
        }
    }

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
                policy: policy.into_pages(),
                owners: Owners::default(),
                index: KeyIndex::default(),
                superseded: Vec::new(),
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

    /// The policy's name.
    pub(crate) fn policy_name(&self) -> &'static str {
        self.lock().policy.name()
    }

    /// Replaces the policy with a fresh one; refused with
    /// [`ListError::Busy`] unless no page is on the list or isolated.
    pub(crate) fn replace_policy(&self, policy: Box<dyn ReclaimPolicy>) -> Result<(), ListError> {
        let mut list = self.lock();
        if !list.policy.is_empty() || list.isolated != 0 {
            return Err(ListError::Busy);
        }
        list.policy = policy.into_pages();
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
