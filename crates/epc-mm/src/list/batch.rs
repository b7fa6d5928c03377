//! The reclaim pipeline's side of a list: isolating victims, putting back
//! the ones their owners declined, and finishing the ones that left.

use super::{index, key_of, ListKeys, Reclaimable};
use crate::owner::PageOwner;
use crate::page::{PageKey, PageState, PageStates};
use crate::policy::ScanReport;
use epc_hw::EpcPageId;
use std::sync::Arc;

/// A page taken off the list, with its owner's reference ("get").
pub(crate) struct Victim {
    pub(crate) page: EpcPageId,
    pub(crate) key: PageKey,
    pub(crate) owner: Arc<dyn PageOwner>,
}

/// What [`Reclaimable::isolate`] did.
#[derive(Default)]
pub(crate) struct Isolation {
    /// What the policy's scan looked at.
    pub(crate) scan: ScanReport,
    /// Pages dropped from the list because their owner was going away.
    pub(crate) skipped: u64,
}

impl Reclaimable {
    /// The policy selects up to `max` victims (testing accessed bits through
    /// the owners' `age`); each one whose owner still upgrades is isolated
    /// (`Tracked` → `Isolated`) and pushed on `victims` with that reference.
    /// A page whose owner is going away is dropped from the list (`InUse`)
    /// and left to the owner's teardown.
    ///
    /// References taken only to call `age` are dropped after the lock is
    /// released: the last one runs the owner's teardown, which takes this
    /// lock.
    pub(crate) fn isolate(
        &self,
        max: usize,
        states: &PageStates,
        victims: &mut Vec<Victim>,
    ) -> Isolation {
        let mut aged: Vec<Arc<dyn PageOwner>> = Vec::new();
        let mut chosen: Vec<u32> = Vec::with_capacity(max);
        let mut report = Isolation::default();
        let mut guard = self.lock();
        let list = &mut *guard;
        let slots = &self.totals.slots;
        report.scan = {
            let keys = ListKeys {
                slots,
                owners: &list.owners,
                index: &list.index,
            };
            let owners = &list.owners;
            let mut young = |page: u32| -> bool {
                // The policy names pages it knows: tracked or isolated here.
                let slot = slots.get(EpcPageId(page));
                let Some(key) = owners.id(slot.owner).map(|o| PageKey::new(o, slot.addr)) else {
                    return false;
                };
                // An owner going away counts as old, so it is isolated and
                // dropped from the list promptly.
                let Some(owner) = owners.upgrade(slot.owner) else {
                    return false;
                };
                let young = owner.age(key);
                // Keep one reference per run of pages of one owner: a
                // duplicate dropped here is never the last one.
                if !aged.last().is_some_and(|o| same_owner(o, &owner)) {
                    aged.push(owner);
                }
                young
            };
            list.policy
                .select_victims(max, &keys, &mut young, &mut chosen)
        };

        for (i, page) in chosen.into_iter().enumerate() {
            let page = EpcPageId(page);
            let Some(key) = key_of(slots, &list.owners, page) else {
                debug_assert!(false, "policy returned unknown page {page:?}");
                continue;
            };
            if i >= max {
                // A policy that over-delivers keeps the surplus.
                list.policy.put_back(key, page.0);
                continue;
            }
            let h = index::hash(key);
            let owner = slots.get(page).owner;
            match list.owners.upgrade(owner) {
                Some(owner) => {
                    states.set(page, PageState::Isolated);
                    list.isolated += 1;
                    victims.push(Victim { page, key, owner });
                }
                None => {
                    // Left to the owner's teardown, which frees the page.
                    list.index.remove(h, page);
                    list.owners.release(owner);
                    list.policy.removed(key, page.0);
                    states.set(page, PageState::InUse);
                    report.skipped += 1;
                }
            }
        }
        self.publish(list);
        drop(guard);
        drop(aged);
        report
    }

    /// Isolated pages whose owners declined go back on the list
    /// (`Isolated` → `Tracked`). The caller drops their owner references
    /// only after this returns (the ordering of Linux's v31 fix).
    pub(crate) fn put_back(
        &self,
        pages: impl Iterator<Item = (EpcPageId, PageKey)>,
        states: &PageStates,
    ) {
        let mut list = self.lock();
        for (page, key) in pages {
            states.set(page, PageState::Tracked);
            list.isolated -= 1;
            list.policy.put_back(key, page.0);
        }
        self.publish(&list);
    }

    /// Isolated pages that left for good (written, failed or abandoned)
    /// leave the reclaimer's tracking (`Isolated` → `InUse`, held by the
    /// batch until it frees them) and the policy learns their fate:
    /// `evicted` when written, `removed` otherwise. A superseded page's key
    /// and the policy are left alone (see `Slot::superseded`).
    pub(crate) fn finish(
        &self,
        pages: impl Iterator<Item = (EpcPageId, PageKey, bool)>,
        states: &PageStates,
    ) {
        let mut guard = self.lock();
        let list = &mut *guard;
        let slots = &self.totals.slots;
        for (page, key, evicted) in pages {
            let slot = slots.get(page);
            list.owners.release(slot.owner);
            list.isolated -= 1;
            if slot.superseded {
                if let Some(i) = list.superseded.iter().position(|&p| p == page) {
                    list.superseded.swap_remove(i);
                }
            } else {
                list.index.remove(index::hash(key), page);
                if evicted {
                    list.policy.evicted(key, page.0);
                } else {
                    list.policy.removed(key, page.0);
                }
            }
            states.set(page, PageState::InUse);
        }
        self.publish(list);
    }
}

fn same_owner(a: &Arc<dyn PageOwner>, b: &Arc<dyn PageOwner>) -> bool {
    // Compare data pointers only: vtable pointers of one type may differ
    // across codegen units.
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}
