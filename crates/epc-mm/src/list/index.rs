//! A list's index from page key to page, for the keys its policy hands
//! back: a table of page ids alone (4 bytes and a control byte per page),
//! hashed by the key each page's [`ListSlots`](super::slots::ListSlots)
//! entry and the owner table give back, in place of a map that would store
//! each 16-byte key again.

use crate::page::PageKey;
use epc_hw::EpcPageId;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;

/// See the module documentation. Lookups take `key_of`, the key of a page
/// in the index.
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    table: HashTable<u32>,
}

/// The hash of `key` in a [`KeyIndex`].
#[inline]
pub(super) fn hash(key: PageKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl KeyIndex {
    /// The page indexed under `key` (whose hash is `h`).
    #[inline]
    pub(super) fn find(
        &self,
        h: u64,
        key: PageKey,
        key_of: impl Fn(EpcPageId) -> Option<PageKey>,
    ) -> Option<EpcPageId> {
        self.table
            .find(h, |&p| key_of(EpcPageId(p)) == Some(key))
            .map(|&p| EpcPageId(p))
    }

    /// Indexes `page` under its key, whose hash is `h` (the caller has
    /// checked that no page is indexed under it).
    #[inline]
    pub(super) fn insert(
        &mut self,
        h: u64,
        page: EpcPageId,
        key_of: impl Fn(EpcPageId) -> Option<PageKey>,
    ) {
        // Every indexed page has a key (`audit` checks it).
        self.table
            .insert_unique(h, page.0, |&p| key_of(EpcPageId(p)).map_or(0, hash));
    }

    /// Drops `page`, indexed under a key whose hash is `h`; whether it was
    /// there.
    #[inline]
    pub(super) fn remove(&mut self, h: u64, page: EpcPageId) -> bool {
        match self.table.find_entry(h, |&p| p == page.0) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Pages indexed.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every page indexed.
    pub(super) fn pages(&self) -> impl Iterator<Item = EpcPageId> + '_ {
        self.table.iter().map(|&p| EpcPageId(p))
    }
}
