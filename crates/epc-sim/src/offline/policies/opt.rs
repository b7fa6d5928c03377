//! Belady's OPT (MIN), offline only: evicts the resident page whose next use
//! is farthest in the future (or never comes). Its miss count is the floor
//! every other policy is measured against.
//!
//! Reference: L. A. Belady, "A study of replacement algorithms for a
//! virtual-storage computer", IBM Systems Journal 5(2), 1966.
//!
//! [`prepare`](OfflinePolicy::prepare) computes, for every position, the
//! position of the next reference to the same page (one backward pass with
//! a hash map). Resident pages sit in a max-heap keyed by their next use;
//! a hit pushes the page's new next use and leaves the old entry behind,
//! stale, to be skipped when it surfaces (an entry is live iff it matches
//! the page's current next use). So each access costs O(log n) and the
//! whole run O(n log n): about a second for 5 million references.

use super::OfflinePolicy;
use epc_mm::PageKey;
use rustc_hash::FxHashMap;
use std::collections::BinaryHeap;

/// "Never used again": farther than any position.
const NEVER: u64 = u64::MAX;

/// Belady's OPT.
#[derive(Debug, Default)]
pub struct Opt {
    /// `next[i]`: position of the next reference to `trace[i]`'s page.
    next: Vec<u64>,
    /// Resident page → its current next use.
    resident: FxHashMap<PageKey, u64>,
    heap: BinaryHeap<(u64, PageKey)>,
}

impl Opt {
    /// An empty cache; [`prepare`](OfflinePolicy::prepare) must be called
    /// with the trace before the run.
    pub fn new() -> Self {
        Opt::default()
    }

    fn next_use(&self, at: u64) -> u64 {
        self.next.get(at as usize).copied().unwrap_or(NEVER)
    }

    fn touch(&mut self, key: PageKey, at: u64) {
        let n = self.next_use(at);
        self.resident.insert(key, n);
        self.heap.push((n, key));
        // Stale entries pile up on hits; drop them now and then so the heap
        // stays proportional to the cache, not to the trace.
        if self.heap.len() > 4 * self.resident.len().max(4096) {
            let resident = &self.resident;
            self.heap.retain(|(n, k)| resident.get(k) == Some(n));
        }
    }
}

impl OfflinePolicy for Opt {
    fn name(&self) -> &'static str {
        "opt"
    }

    fn prepare(&mut self, trace: &[PageKey]) {
        let mut last: FxHashMap<PageKey, u64> = FxHashMap::default();
        self.next = vec![NEVER; trace.len()];
        for (i, key) in trace.iter().enumerate().rev() {
            if let Some(n) = last.insert(*key, i as u64) {
                self.next[i] = n;
            }
        }
    }

    fn hit(&mut self, key: PageKey, at: u64) {
        self.touch(key, at);
    }

    fn inserted(&mut self, key: PageKey, at: u64) {
        self.touch(key, at);
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        while let Some((n, key)) = self.heap.pop() {
            if self.resident.get(&key) == Some(&n) {
                self.resident.remove(&key);
                return Some(key);
            }
        }
        None
    }

    fn removed(&mut self, key: PageKey) {
        self.resident.remove(&key);
    }

    fn len(&self) -> usize {
        self.resident.len()
    }
}
