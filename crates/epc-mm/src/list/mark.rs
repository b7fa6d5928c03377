//! The owners' side of a list: putting an in-use page on it and taking a
//! page off it.

use super::{ListError, Reclaimable, Slot};
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
        if let Some(&old) = list.keys.get(&key) {
            // The same key may come back while its previous page is still
            // isolated by a batch that has not finished: the owner handed
            // that page back as written, then faulted the key in again.
            // Account for the eviction now, so the policy sees the events in
            // their real order; anything else is a second page under one key.
            match (states.get(old), list.slots.get_mut(&old)) {
                (PageState::Isolated, Some(slot)) if !slot.superseded => {
                    slot.superseded = true;
                    list.keys.remove(&key);
                    list.policy.evicted(key);
                }
                _ => return Err(ListError::DuplicateKey(key)),
            }
        }
        list.slots.insert(
            page,
            Slot {
                key,
                owner,
                superseded: false,
            },
        );
        list.keys.insert(key, page);
        list.policy.inserted(key);
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
        if let Some(slot) = list.slots.remove(&page) {
            list.keys.remove(&slot.key);
            list.policy.removed(slot.key);
        }
        states.set(page, PageState::InUse);
        self.publish(list);
        Ok(true)
    }
}
