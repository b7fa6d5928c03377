//! ARC (Adaptive Replacement Cache), offline only.
//!
//! Reference: N. Megiddo and D. S. Modha, "ARC: A Self-Tuning, Low Overhead
//! Replacement Cache", FAST 2003, Figure 4, implemented literally with a
//! floating-point target `p` (libCacheSim does the same; an integer `p`
//! gives different counts).
//!
//! T1 holds pages seen once recently, T2 pages seen at least twice; B1 and
//! B2 are their ghosts (evicted keys). A ghost hit in B1 grows T1's target
//! `p`, one in B2 shrinks it. ARC moves a page to T2's MRU end on every
//! hit, so it needs every hit: offline only (CAR is its live, CLOCK-based
//! form).

use super::OfflinePolicy;
use crate::offline::dense::{DenseLists, DensePolicy};
use epc_mm::KeyLists;
use epc_mm::PageKey;

/// The four lists, queues of `ArcCore::lists`.
const T1: usize = 0;
const T2: usize = 1;
const B1: usize = 2;
const B2: usize = 3;

/// Where the miss being handled was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    New,
    B1,
    B2,
}

/// The four queues ARC needs, over page keys ([`KeyLists`]) or over the
/// simulator's dense ids ([`DenseLists`]): one algorithm, two stores.
trait Queues {
    type Key: Copy + Eq + std::fmt::Debug;
    fn queue_len(&self, q: usize) -> usize;
    fn queue_of(&self, k: Self::Key) -> Option<usize>;
    fn front(&self, q: usize) -> Option<Self::Key>;
    fn pop_front(&mut self, q: usize) -> Option<Self::Key>;
    fn push_back(&mut self, q: usize, k: Self::Key);
    fn move_to_back(&mut self, q: usize, k: Self::Key) -> bool;
}

impl Queues for KeyLists<()> {
    type Key = PageKey;
    fn queue_len(&self, q: usize) -> usize {
        KeyLists::queue_len(self, q)
    }
    fn queue_of(&self, k: PageKey) -> Option<usize> {
        KeyLists::queue_of(self, k)
    }
    fn front(&self, q: usize) -> Option<PageKey> {
        KeyLists::front(self, q)
    }
    fn pop_front(&mut self, q: usize) -> Option<PageKey> {
        KeyLists::pop_front(self, q).map(|(k, ())| k)
    }
    fn push_back(&mut self, q: usize, k: PageKey) {
        KeyLists::push_back(self, q, k, ());
    }
    fn move_to_back(&mut self, q: usize, k: PageKey) -> bool {
        KeyLists::move_to_back(self, q, k)
    }
}

impl Queues for DenseLists {
    type Key = u32;
    #[inline]
    fn queue_len(&self, q: usize) -> usize {
        DenseLists::queue_len(self, q)
    }
    #[inline]
    fn queue_of(&self, k: u32) -> Option<usize> {
        DenseLists::queue_of(self, k)
    }
    #[inline]
    fn front(&self, q: usize) -> Option<u32> {
        DenseLists::front(self, q)
    }
    #[inline]
    fn pop_front(&mut self, q: usize) -> Option<u32> {
        DenseLists::pop_front(self, q)
    }
    #[inline]
    fn push_back(&mut self, q: usize, k: u32) {
        DenseLists::push_back(self, q, k);
    }
    #[inline]
    fn move_to_back(&mut self, q: usize, k: u32) -> bool {
        DenseLists::move_to_back(self, q, k)
    }
}

/// ARC's state and Figure 4's cases, over either store.
#[derive(Debug)]
struct ArcCore<L: Queues> {
    c: usize,
    p: f64,
    /// T1, T2, B1 and B2 as the queues of one set of lists: one lookup
    /// finds a key's list, and moving a key between lists (a hit in T1,
    /// an eviction into a ghost list, a ghost hit) relinks it instead of
    /// removing it from one map and inserting it in another.
    lists: L,
    /// The miss in progress (set by `missed`, used by `evict`/`inserted`).
    pending: Option<(L::Key, Origin)>,
}

impl<L: Queues> ArcCore<L> {
    fn new(capacity: usize, lists: L) -> Self {
        ArcCore {
            c: capacity.max(1),
            p: 0.0,
            lists,
            pending: None,
        }
    }

    #[inline]
    fn len_of(&self, q: usize) -> usize {
        self.lists.queue_len(q)
    }

    /// REPLACE(x, p) of Figure 4: evicts T1's LRU to B1 or T2's LRU to B2.
    #[inline]
    fn replace(&mut self, from_b2: bool) -> Option<L::Key> {
        let t1 = self.len_of(T1);
        let (from, to) = if t1 >= 1 && ((from_b2 && t1 as f64 == self.p) || t1 as f64 > self.p) {
            (T1, B1)
        } else if self.len_of(T2) > 0 {
            (T2, B2)
        } else {
            (T1, B1)
        };
        let k = self.lists.front(from)?;
        self.lists.move_to_back(to, k);
        Some(k)
    }

    #[inline]
    fn hit(&mut self, key: L::Key) {
        // Case I: to T2's MRU end (from T1, or within T2).
        self.lists.move_to_back(T2, key);
    }

    #[inline]
    fn missed(&mut self, key: L::Key) {
        let (b1, b2) = (self.len_of(B1) as f64, self.len_of(B2) as f64);
        let found = self.lists.queue_of(key);
        let origin = if found == Some(B1) {
            // Case II.
            let d = if b1 >= b2 { 1.0 } else { b2 / b1 };
            self.p = (self.p + d).min(self.c as f64);
            Origin::B1
        } else if found == Some(B2) {
            // Case III.
            let d = if b2 >= b1 { 1.0 } else { b1 / b2 };
            self.p = (self.p - d).max(0.0);
            Origin::B2
        } else {
            // Case IV: trim the directory before the replacement.
            let l1 = self.len_of(T1) + self.len_of(B1);
            let total = l1 + self.len_of(T2) + self.len_of(B2);
            if l1 == self.c {
                if self.len_of(T1) < self.c {
                    self.lists.pop_front(B1);
                }
                // Else T1's LRU page itself is dropped, in `evict`.
            } else if l1 < self.c && total >= self.c && total >= 2 * self.c {
                self.lists.pop_front(B2);
            }
            Origin::New
        };
        self.pending = Some((key, origin));
    }

    #[inline]
    fn inserted(&mut self, key: L::Key) {
        let origin = match self.pending.take() {
            Some((k, o)) if k == key => o,
            _ => {
                // Driven without `missed`: treat as a fresh miss.
                self.missed(key);
                self.pending.take().map_or(Origin::New, |(_, o)| o)
            }
        };
        match origin {
            Origin::B1 | Origin::B2 => {
                // Out of its ghost list, to T2's MRU end.
                if !self.lists.move_to_back(T2, key) {
                    self.lists.push_back(T2, key);
                }
            }
            Origin::New => {
                self.lists.push_back(T1, key);
            }
        }
    }

    #[inline]
    fn evict(&mut self) -> Option<L::Key> {
        match self.pending {
            Some((_, Origin::New))
                if self.len_of(T1) + self.len_of(B1) == self.c && self.len_of(T1) == self.c =>
            {
                // Case IV.A with T1 full: its LRU leaves without a ghost.
                self.lists.pop_front(T1)
            }
            Some((_, origin)) => self.replace(origin == Origin::B2),
            None => self.replace(false),
        }
    }

    fn len(&self) -> usize {
        self.len_of(T1) + self.len_of(T2)
    }
}

/// ARC over a cache of `c` pages (named `ArcCache` so as not to shadow
/// `std::sync::Arc`).
#[derive(Debug)]
pub struct ArcCache {
    core: ArcCore<KeyLists<()>>,
}

impl ArcCache {
    /// An empty cache of `capacity` pages (ARC sizes its ghosts from it).
    pub fn new(capacity: usize) -> Self {
        ArcCache {
            core: ArcCore::new(capacity, KeyLists::new(4)),
        }
    }

    /// The same algorithm over the simulator's dense ids below `distinct`
    /// (its fast path, [`crate::offline::dense`]).
    pub(crate) fn dense(capacity: usize, distinct: usize) -> impl DensePolicy {
        DenseArc(ArcCore::new(capacity, DenseLists::new(4, distinct)))
    }

    /// The current target size of T1.
    pub fn target(&self) -> f64 {
        self.core.p
    }
}

impl OfflinePolicy for ArcCache {
    fn name(&self) -> &'static str {
        "arc"
    }

    fn hit(&mut self, key: PageKey, _at: u64) {
        self.core.hit(key);
    }

    fn missed(&mut self, key: PageKey, _at: u64) {
        self.core.missed(key);
    }

    fn inserted(&mut self, key: PageKey, _at: u64) {
        self.core.inserted(key);
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        self.core.evict()
    }

    fn removed(&mut self, key: PageKey) {
        self.core.lists.remove(key);
    }

    fn len(&self) -> usize {
        self.core.len()
    }
}

/// [`ArcCache`] on dense ids.
#[derive(Debug)]
struct DenseArc(ArcCore<DenseLists>);

impl DensePolicy for DenseArc {
    #[inline]
    fn hit(&mut self, id: u32) {
        self.0.hit(id);
    }

    #[inline]
    fn missed(&mut self, id: u32) {
        self.0.missed(id);
    }

    #[inline]
    fn evict(&mut self) -> u32 {
        self.0.evict().expect("a full cache has a victim")
    }

    #[inline]
    fn inserted(&mut self, id: u32) {
        self.0.inserted(id);
    }
}
