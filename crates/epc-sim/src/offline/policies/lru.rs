//! Exact LRU (least recently used), offline only.
//!
//! Evicts the page whose last use is oldest. It needs every hit to reorder
//! its list, which a kernel never sees (it only samples accessed bits), so
//! it implements [`OfflinePolicy`] and cannot be installed in the manager;
//! CLOCK ([`SecondChance`](epc_mm::SecondChance)) is its live approximation.
//! Reference: the textbook stack algorithm (Mattson, Gecsei, Slutz and
//! Traiger, "Evaluation techniques for storage hierarchies", IBM Systems
//! Journal 9(2), 1970).

use super::OfflinePolicy;
use epc_mm::KeyList;
use epc_mm::PageKey;

/// Exact LRU: the list's head is the least recently used page.
#[derive(Debug, Default)]
pub struct Lru {
    list: KeyList,
}

impl Lru {
    /// An empty cache.
    pub fn new() -> Self {
        Lru::default()
    }
}

impl OfflinePolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn hit(&mut self, key: PageKey, _at: u64) {
        self.list.move_to_back(key);
    }

    fn inserted(&mut self, key: PageKey, _at: u64) {
        self.list.push_back(key);
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        self.list.pop_front()
    }

    fn removed(&mut self, key: PageKey) {
        self.list.remove(key);
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}
