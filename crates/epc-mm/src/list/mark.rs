//! The owners' side of a list: putting an in-use page on it and taking a
//! page off it.

use super::{index, key_of, ListError, Reclaimable};
use crate::owner::PageOwner;
use crate::page::{PageKey, PageState, PageStates};
use epc_hw::EpcPageId;
use std::sync::Weak;

impl Reclaimable {
    /// Puts an in-use page on the list (`InUse` → `Tracked`).
    pub(crate) fn mark(
        &self,
        page: EpcPageId,
        key: PageKey,
        owner: Weak<dyn PageOwner>,
        states: &PageStates,
    ) -> Result<(), ListError> {
        let mut guard = self.lock();
        match states.get(page) {
            PageState::InUse => {}
            PageState::Tracked => return Err(ListError::AlreadyMarked),
            PageState::Isolated => return Err(ListError::Busy),
            PageState::Free => return Err(ListError::NotAllocated),
        }
        let list = &mut *guard;
        let slots = &self.totals.slots;
        let h = index::hash(key);
        let found = list.index.find(h, key, |p| key_of(slots, &list.owners, p));
        if let Some(old) = found {
            // The same key may come back while its previous page is still
            // isolated by a batch that has not finished: the owner handed
            // that page back as written, then faulted the key in again.
            // Account for the eviction now, so the policy sees the events in
            // their real order; anything else is a second page under one key.
            if states.get(old) != PageState::Isolated || slots.get(old).superseded {
                return Err(ListError::DuplicateKey(key));
            }
            slots.supersede(old);
            list.superseded.push(old);
            list.index.remove(h, old);
            list.policy.evicted(key, old.0);
        }
        let owner = list.owners.acquire(owner, key.owner);
        slots.set(page, key.addr, owner);
        list.index
            .insert(h, page, |p| key_of(slots, &list.owners, p));
        list.policy.inserted(key, page.0);
        states.set(page, PageState::Tracked);
        self.publish(list);
        Ok(())
    }

    /// Takes a page off the list (`Tracked` → `InUse`). `Ok(true)` if it was
    /// on it, `Ok(false)` if it was not (never marked, or already untracked
    /// because its owner was going away), `Busy` if a reclaim batch holds
    /// it.
    pub(crate) fn unmark(&self, page: EpcPageId, states: &PageStates) -> Result<bool, ListError> {
        let mut guard = self.lock();
        match states.get(page) {
            PageState::Tracked => {}
            PageState::InUse => return Ok(false),
            PageState::Isolated => return Err(ListError::Busy),
            PageState::Free => return Err(ListError::NotAllocated),
        }
        let list = &mut *guard;
        let slot = self.totals.slots.get(page);
        // A tracked page is indexed (never superseded) on its own list.
        if let Some(key) = key_of(&self.totals.slots, &list.owners, page) {
            if list.index.remove(index::hash(key), page) {
                list.owners.release(slot.owner);
                list.policy.removed(key, page.0);
            }
        }
        states.set(page, PageState::InUse);
        self.publish(list);
        Ok(true)
    }
}
