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
use epc_mm::KeyList;
use epc_mm::PageKey;

/// Where the miss being handled was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    New,
    B1,
    B2,
}

/// ARC over a cache of `c` pages (named `ArcCache` so as not to shadow
/// `std::sync::Arc`).
#[derive(Debug)]
pub struct ArcCache {
    c: usize,
    p: f64,
    t1: KeyList,
    t2: KeyList,
    b1: KeyList,
    b2: KeyList,
    /// The miss in progress (set by `missed`, used by `evict`/`inserted`).
    pending: Option<(PageKey, Origin)>,
}

impl ArcCache {
    /// An empty cache of `capacity` pages (ARC sizes its ghosts from it).
    pub fn new(capacity: usize) -> Self {
        ArcCache {
            c: capacity.max(1),
            p: 0.0,
            t1: KeyList::default(),
            t2: KeyList::default(),
            b1: KeyList::default(),
            b2: KeyList::default(),
            pending: None,
        }
    }

    /// The current target size of T1.
    pub fn target(&self) -> f64 {
        self.p
    }

    /// REPLACE(x, p) of Figure 4: evicts T1's LRU to B1 or T2's LRU to B2.
    fn replace(&mut self, from_b2: bool) -> Option<PageKey> {
        let t1 = self.t1.len();
        if t1 >= 1 && ((from_b2 && t1 as f64 == self.p) || t1 as f64 > self.p) {
            let k = self.t1.pop_front()?;
            self.b1.push_back(k);
            Some(k)
        } else if let Some(k) = self.t2.pop_front() {
            self.b2.push_back(k);
            Some(k)
        } else {
            let k = self.t1.pop_front()?;
            self.b1.push_back(k);
            Some(k)
        }
    }
}

impl OfflinePolicy for ArcCache {
    fn name(&self) -> &'static str {
        "arc"
    }

    fn hit(&mut self, key: PageKey, _at: u64) {
        // Case I: to T2's MRU end.
        if self.t1.remove(key) {
            self.t2.push_back(key);
        } else {
            self.t2.move_to_back(key);
        }
    }

    fn missed(&mut self, key: PageKey, _at: u64) {
        let (b1, b2) = (self.b1.len() as f64, self.b2.len() as f64);
        let origin = if self.b1.contains(key) {
            // Case II.
            let d = if b1 >= b2 { 1.0 } else { b2 / b1 };
            self.p = (self.p + d).min(self.c as f64);
            Origin::B1
        } else if self.b2.contains(key) {
            // Case III.
            let d = if b2 >= b1 { 1.0 } else { b1 / b2 };
            self.p = (self.p - d).max(0.0);
            Origin::B2
        } else {
            // Case IV: trim the directory before the replacement.
            let l1 = self.t1.len() + self.b1.len();
            let total = l1 + self.t2.len() + self.b2.len();
            if l1 == self.c {
                if self.t1.len() < self.c {
                    self.b1.pop_front();
                }
                // Else T1's LRU page itself is dropped, in `evict`.
            } else if l1 < self.c && total >= self.c && total >= 2 * self.c {
                self.b2.pop_front();
            }
            Origin::New
        };
        self.pending = Some((key, origin));
    }

    fn inserted(&mut self, key: PageKey, at: u64) {
        let origin = match self.pending.take() {
            Some((k, o)) if k == key => o,
            _ => {
                // Driven without `missed`: treat as a fresh miss.
                self.missed(key, at);
                self.pending.take().map_or(Origin::New, |(_, o)| o)
            }
        };
        match origin {
            Origin::B1 => {
                self.b1.remove(key);
                self.t2.push_back(key);
            }
            Origin::B2 => {
                self.b2.remove(key);
                self.t2.push_back(key);
            }
            Origin::New => {
                self.t1.push_back(key);
            }
        }
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        match self.pending {
            Some((_, Origin::New))
                if self.t1.len() + self.b1.len() == self.c && self.t1.len() == self.c =>
            {
                // Case IV.A with T1 full: its LRU leaves without a ghost.
                self.t1.pop_front()
            }
            Some((_, origin)) => self.replace(origin == Origin::B2),
            None => self.replace(false),
        }
    }

    fn removed(&mut self, key: PageKey) {
        self.t1.remove(key);
        self.t2.remove(key);
        self.b1.remove(key);
        self.b2.remove(key);
    }

    fn len(&self) -> usize {
        self.t1.len() + self.t2.len()
    }
}
