//! A list's table of page owners: each distinct owner of the pages on the
//! list once (its `Weak` reference and [`OwnerId`]), under a small index
//! that the per-page entries hold in place of a 16-byte `Weak<dyn
//! PageOwner>` each. An entry lives while pages refer to it and its slot is
//! reused after.
//!
//! Owners are told apart by their object and their id together: a dead
//! owner's pages may still be listed when a new owner takes its id (ids are
//! unique among live owners only), and its `Weak` keeps the object's
//! allocation, so its address cannot be reused meanwhile.

use crate::owner::PageOwner;
use crate::page::OwnerId;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Weak};

struct Entry {
    /// `None` while the slot is spare.
    owner: Option<Weak<dyn PageOwner>>,
    id: OwnerId,
    /// Pages whose entry names this one.
    pages: u32,
}

/// See the module documentation.
#[derive(Default)]
pub(super) struct Owners {
    entries: Vec<Entry>,
    spare: Vec<u32>,
    index: FxHashMap<(usize, OwnerId), u32>,
    /// References over all entries (pages tracked or isolated).
    references: usize,
}

fn address(owner: &Weak<dyn PageOwner>) -> usize {
    // The data pointer only: vtable pointers of one type may differ across
    // codegen units.
    owner.as_ptr().cast::<()>() as usize
}

impl Owners {
    /// The index of `owner` under `id`, with one more page referring to it.
    pub(super) fn acquire(&mut self, owner: Weak<dyn PageOwner>, id: OwnerId) -> u32 {
        self.references += 1;
        let k = (address(&owner), id);
        if let Some(&i) = self.index.get(&k) {
            self.entries[i as usize].pages += 1;
            return i;
        }
        let entry = Entry {
            owner: Some(owner),
            id,
            pages: 1,
        };
        let i = match self.spare.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                u32::try_from(self.entries.len() - 1).expect("fewer than 2^31 owners")
            }
        };
        self.index.insert(k, i);
        i
    }

    /// One page fewer refers to `i`; the entry is forgotten (its `Weak`
    /// dropped, which never runs an owner's teardown) with its last page.
    pub(super) fn release(&mut self, i: u32) {
        let e = &mut self.entries[i as usize];
        debug_assert!(e.pages > 0, "owner entry released too often");
        e.pages -= 1;
        self.references -= 1;
        if e.pages == 0 {
            if let Some(owner) = e.owner.take() {
                self.index.remove(&(address(&owner), e.id));
            }
            self.spare.push(i);
        }
    }

    /// The id of live entry `i`; `None` for an index no page of this list
    /// holds.
    #[inline]
    pub(super) fn id(&self, i: u32) -> Option<OwnerId> {
        self.entries
            .get(i as usize)
            .filter(|e| e.owner.is_some())
            .map(|e| e.id)
    }

    /// A strong reference to the owner of entry `i`, unless it is going
    /// away.
    #[inline]
    pub(super) fn upgrade(&self, i: u32) -> Option<Arc<dyn PageOwner>> {
        self.entries.get(i as usize)?.owner.as_ref()?.upgrade()
    }

    /// Pages referring to any entry.
    pub(super) fn references(&self) -> usize {
        self.references
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::owner::{BlockOutcome, Tracked, WriteOutcome};
    use crate::page::PageKey;
    use epc_hw::EpcPageId;

    struct Nobody;

    impl PageOwner for Nobody {
        fn age(&self, _key: PageKey) -> bool {
            false
        }
        fn block(&self, _key: PageKey, _page: EpcPageId) -> BlockOutcome {
            BlockOutcome::Declined
        }
        fn track(&self) {}
        fn write(&self, _key: PageKey, _page: EpcPageId, _tracked: &Tracked) -> WriteOutcome {
            unreachable!("never blocked")
        }
    }

    fn weak(a: &Arc<Nobody>) -> Weak<dyn PageOwner> {
        Arc::downgrade(a) as Weak<dyn PageOwner>
    }

    #[test]
    fn owners_are_shared_by_object_and_id_and_forgotten_with_their_last_page() {
        let (a, b) = (Arc::new(Nobody), Arc::new(Nobody));
        let mut t = Owners::default();
        let ia = t.acquire(weak(&a), OwnerId(1));
        assert_eq!(t.acquire(weak(&a), OwnerId(1)), ia, "one entry per owner");
        let ib = t.acquire(weak(&b), OwnerId(1));
        assert_ne!(ib, ia, "a new owner under a dead owner's id is another");
        let ic = t.acquire(weak(&a), OwnerId(2));
        assert_ne!(ic, ia);
        assert_eq!(t.references(), 4);
        assert_eq!(t.id(ic), Some(OwnerId(2)));
        assert!(t
            .upgrade(ia)
            .is_some_and(|o| Arc::ptr_eq(&o, &(Arc::clone(&a) as Arc<dyn PageOwner>))));
        t.release(ia);
        assert_eq!(t.id(ia), Some(OwnerId(1)), "one page still refers to it");
        t.release(ia);
        assert_eq!((t.id(ia), t.upgrade(ia).is_none()), (None, true));
        assert_eq!(
            t.acquire(weak(&b), OwnerId(7)),
            ia,
            "a spare slot is reused"
        );
        drop(b);
        assert!(t.upgrade(ib).is_none(), "a dead owner does not upgrade");
        assert_eq!(t.references(), 3);
    }
}
