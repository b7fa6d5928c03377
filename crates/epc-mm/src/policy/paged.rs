//! A policy driven by page number as well as key: how the manager's lists
//! drive their policy, so that a built-in policy keeps a page's place in
//! its queues in a per-page entry ([`PageLinks`](super::PageLinks)) instead
//! of storing the page's 16-byte key again with a node and a hash map
//! (issue 13, §5: the metadata per page in use).
//!
//! [`PagePolicy`] is the same set of events as
//! [`ReclaimPolicy`](super::ReclaimPolicy) with the page number beside the
//! key; victims come back as page numbers, and accessed bits are tested by
//! page. The caller guarantees that one page number names one key from
//! `inserted` until that key's `evicted` or `removed`.
//!
//! Every built-in policy whose queues hold only resident or isolated pages
//! (FIFO, second chance, SIEVE, Tide, MGLRU; their ghosts and shadows stay
//! keys, as they outlive the pages) is written once against this trait; its
//! `ReclaimPolicy` methods (the simulator's and the tests' way in) give
//! each key a dense number of their own ([`KeyIds`]) and call the same
//! code, so the two ways in make the same choices (`policy_replay` checks
//! the manager against the simulator). CLOCK-Pro, whose ring also holds
//! keys no longer resident, and policies from outside reach the manager
//! through [`ByKey`].

use super::{ReclaimPolicy, ScanReport};
use crate::page::PageKey;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::fmt;
use std::hash::BuildHasher;

/// Between keys and the page numbers a [`PagePolicy`] is driven with.
pub trait PageKeys {
    /// The page now holding `key` (resident or isolated), if any.
    fn page(&self, key: PageKey) -> Option<u32>;
    /// The key of a page the policy knows.
    fn key(&self, page: u32) -> Option<PageKey>;
}

/// A live policy driven by page and key; see the module documentation.
pub trait PagePolicy: Send + fmt::Debug {
    /// A short name, as for [`ReclaimPolicy::name`].
    fn name(&self) -> &'static str;
    /// `key`, on `page`, became resident and reclaimable.
    fn inserted(&mut self, key: PageKey, page: u32);
    /// As [`ReclaimPolicy::select_victims`], by page; `keys` answers for
    /// pages the policy knows and keys it remembers.
    fn select_victims(
        &mut self,
        max: usize,
        keys: &dyn PageKeys,
        test_and_clear_young: &mut dyn FnMut(u32) -> bool,
        victims: &mut Vec<u32>,
    ) -> ScanReport;
    /// An isolated page could not be taken and is resident again.
    fn put_back(&mut self, key: PageKey, page: u32);
    /// An isolated page was evicted.
    fn evicted(&mut self, key: PageKey, page: u32);
    /// The page's owner freed or unmarked it (resident or isolated).
    fn removed(&mut self, key: PageKey, page: u32);
    /// Number of resident (not isolated) pages.
    fn len(&self) -> usize;
    /// Whether no page is resident.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether `key`, on `page`, is resident.
    fn contains(&self, key: PageKey, page: u32) -> bool;
}

/// A key-driven policy driven by page: pages are translated to keys going
/// in, and victims' keys to pages (through the caller's [`PageKeys`])
/// coming out.
#[derive(Debug)]
pub struct ByKey(pub Box<dyn ReclaimPolicy>);

impl PagePolicy for ByKey {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn inserted(&mut self, key: PageKey, _page: u32) {
        self.0.inserted(key);
    }

    fn select_victims(
        &mut self,
        max: usize,
        keys: &dyn PageKeys,
        test_and_clear_young: &mut dyn FnMut(u32) -> bool,
        victims: &mut Vec<u32>,
    ) -> ScanReport {
        let mut chosen = Vec::with_capacity(max);
        let report = self.0.select_victims(
            max,
            &mut |k| keys.page(k).is_some_and(&mut *test_and_clear_young),
            &mut chosen,
        );
        for k in chosen {
            match keys.page(k) {
                Some(p) => victims.push(p),
                None => debug_assert!(false, "policy returned unknown key {k:?}"),
            }
        }
        report
    }

    fn put_back(&mut self, key: PageKey, _page: u32) {
        self.0.put_back(key);
    }

    fn evicted(&mut self, key: PageKey, _page: u32) {
        self.0.evicted(key);
    }

    fn removed(&mut self, key: PageKey, _page: u32) {
        self.0.removed(key);
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn contains(&self, key: PageKey, _page: u32) -> bool {
        self.0.contains(key)
    }
}

#[inline]
fn hash(key: PageKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// Dense numbers for keys, for a [`PagePolicy`] driven by key (the
/// simulator, the tests): a number is given on a key's first event and
/// taken back once the policy no longer knows the page.
#[derive(Debug, Default)]
pub(crate) struct KeyIds {
    keys: Vec<PageKey>,
    /// Numbers in use, hashed by their key.
    index: HashTable<u32>,
    /// Numbers given back, reused before `keys` grows.
    spare: Vec<u32>,
}

impl KeyIds {
    /// The number of `key`, if it has one.
    #[inline]
    pub(crate) fn get(&self, key: PageKey) -> Option<u32> {
        let keys = &self.keys;
        self.index
            .find(hash(key), |&i| keys[i as usize] == key)
            .copied()
    }

    /// The number of `key`, given one if it has none.
    pub(crate) fn get_or_add(&mut self, key: PageKey) -> u32 {
        if let Some(i) = self.get(key) {
            return i;
        }
        let i = match self.spare.pop() {
            Some(i) => {
                self.keys[i as usize] = key;
                i
            }
            None => {
                self.keys.push(key);
                (self.keys.len() - 1) as u32
            }
        };
        let keys = &self.keys;
        self.index
            .insert_unique(hash(key), i, |&j| hash(keys[j as usize]));
        i
    }

    /// Takes back the number of `key` (given as `id`) unless `keep`.
    pub(crate) fn release_unless(&mut self, key: PageKey, id: u32, keep: bool) {
        if keep {
            return;
        }
        if let Ok(e) = self.index.find_entry(hash(key), |&i| i == id) {
            e.remove();
            self.spare.push(id);
        }
    }

    /// The key of number `id` (in use).
    #[inline]
    pub(crate) fn key_of(&self, id: u32) -> PageKey {
        self.keys[id as usize]
    }
}

impl PageKeys for KeyIds {
    fn page(&self, key: PageKey) -> Option<u32> {
        self.get(key)
    }

    fn key(&self, page: u32) -> Option<PageKey> {
        self.keys.get(page as usize).copied()
    }
}

/// Implements [`ReclaimPolicy`] for a [`PagePolicy`] type with fields
/// `ids: KeyIds` and `core: $core` (the page-driven policy) and a `knows`
/// method on the core (whether it still has state for a page), by giving
/// each key a number from `ids`.
macro_rules! reclaim_by_key_ids {
    ($ty:ty) => {
        impl $crate::policy::ReclaimPolicy for $ty {
            fn name(&self) -> &'static str {
                $crate::policy::PagePolicy::name(&self.core)
            }

            fn inserted(&mut self, key: $crate::page::PageKey) {
                let id = self.ids.get_or_add(key);
                $crate::policy::PagePolicy::inserted(&mut self.core, key, id);
                self.ids.release_unless(key, id, self.core.knows(id));
            }

            fn select_victims(
                &mut self,
                max: usize,
                test_and_clear_young: &mut dyn FnMut($crate::page::PageKey) -> bool,
                victims: &mut Vec<$crate::page::PageKey>,
            ) -> $crate::policy::ScanReport {
                let ids = &self.ids;
                let mut chosen = Vec::with_capacity(max);
                let report = $crate::policy::PagePolicy::select_victims(
                    &mut self.core,
                    max,
                    ids,
                    &mut |id| test_and_clear_young(ids.key_of(id)),
                    &mut chosen,
                );
                for id in chosen {
                    let key = self.ids.key_of(id);
                    victims.push(key);
                    // A victim the policy dropped (rather than isolated).
                    self.ids.release_unless(key, id, self.core.knows(id));
                }
                report
            }

            fn put_back(&mut self, key: $crate::page::PageKey) {
                let id = self.ids.get_or_add(key);
                $crate::policy::PagePolicy::put_back(&mut self.core, key, id);
                self.ids.release_unless(key, id, self.core.knows(id));
            }

            fn evicted(&mut self, key: $crate::page::PageKey) {
                let id = self.ids.get_or_add(key);
                $crate::policy::PagePolicy::evicted(&mut self.core, key, id);
                self.ids.release_unless(key, id, self.core.knows(id));
            }

            fn removed(&mut self, key: $crate::page::PageKey) {
                let id = self.ids.get_or_add(key);
                $crate::policy::PagePolicy::removed(&mut self.core, key, id);
                self.ids.release_unless(key, id, self.core.knows(id));
            }

            fn len(&self) -> usize {
                $crate::policy::PagePolicy::len(&self.core)
            }

            fn contains(&self, key: $crate::page::PageKey) -> bool {
                self.ids
                    .get(key)
                    .is_some_and(|id| $crate::policy::PagePolicy::contains(&self.core, key, id))
            }

            fn into_pages(self: Box<Self>) -> Box<dyn $crate::policy::PagePolicy> {
                // Numbers given to keys would clash with page numbers: a
                // policy already driven by key stays driven by key.
                if self.ids.is_empty() {
                    Box::new(self.core)
                } else {
                    Box::new($crate::policy::ByKey(self))
                }
            }
        }
    };
}
pub(super) use reclaim_by_key_ids;

impl KeyIds {
    /// Whether no key has a number.
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}
