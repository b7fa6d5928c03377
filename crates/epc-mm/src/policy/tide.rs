//! Tide: the project's own live policy. S3-FIFO's quick demotion, over
//! accessed bits, with ARC's ghost-driven adaptation of the probation
//! queue's size.
//!
//! Sources: S3-FIFO (Yang et al., "FIFO queues are all you need for cache
//! eviction", SOSP 2023) for the structure: a small probation FIFO `S`, a
//! main CLOCK `M` and ghost keys; ARC (Megiddo and Modha, FAST 2003) and
//! CAR (Bansal and Modha, FAST 2004) for the self-tuning target of `S`
//! driven by hits on two ghost lists. The target moves in and out like a
//! tide, hence the name.
//!
//! It sees only what a kernel sees:
//!
//! * **insert** (a fault): a key found in a ghost list goes straight to `M`
//!   (and moves the target); any other key joins `S`. Until the first
//!   eviction everything joins `M`, so a cache that filled up once keeps its
//!   first pages while they are used (this is what makes loops and scans
//!   cost only the probation queue, as in S3-FIFO and CLOCK-Pro).
//! * **accessed bits**: on hardware the faulting access itself sets the
//!   bit. A page must show an access *after* that, so each scan first
//!   tests-and-clears the bits of the pages that came in since the last
//!   scan (into `S`, or into `M` from a ghost list), discarding the
//!   result: references between a page's fault and the next fault count as
//!   one (the "correlated reference period" of LRU-K and 2Q), and a page
//!   back from a ghost list earns no credit in `M` for its fault.
//! * **victims**: while `S` is above its target (or `M` is empty), `S`'s
//!   oldest page is examined: accessed → promoted to `M`'s tail; not →
//!   evicted, its key kept in ghost list `Gs`. Otherwise `M` runs a CLOCK
//!   with a frequency credit of up to `MAX_FREQ` (3): accessed → cleared,
//!   one credit gained, moved to the tail; idle with credit → one credit
//!   spent, moved to the tail; idle without → evicted into ghost list
//!   `Gm`. The credit is S3-FIFO's 2-bit counter with accessed bits for
//!   hits: a page found accessed at several turns of the hand survives as
//!   many idle turns, which is what frequency-skewed traces (databases,
//!   block and web caches) reward. Ghost lists hold the keys of the last
//!   4/5 × *c* evictions.
//! * **adaptation**: a fault on a key in `Gs` means probation was too short:
//!   the target grows by `max(1, |Gm| / |Gs|)`; one in `Gm` means the main
//!   queue was too small: it shrinks by `max(1, |Gs| / |Gm|)` (ARC's rule).
//!   On LRU-friendly patterns (zigzag, backward scans) `S` grows towards the
//!   whole cache and Tide becomes FIFO-with-promotion, close to CLOCK; on
//!   loops and scans it stays small and protects `M`.
//!
//! * **a reversal while the first fill is protected**: during the first
//!   `WARMUP` × *c* evictions, a fault on the key evicted from `S` just
//!   before the previous ghost fault's key (ghost faults in reverse
//!   eviction order: a recent scan being walked back) neither moves the
//!   target nor joins `M`'s tail: it joins `M` next to the hand, where the
//!   next victim search finds it. Such a page is used once on the way back;
//!   at the tail it would push out, one per fault, the first fill that the
//!   walk back reaches last (and growing the target would let `S` take
//!   over the rest). Later the normal rule applies, so a trace that keeps
//!   reversing (zigzag) still turns Tide into FIFO-with-promotion.
//!
//! The cache size is taken as the resident count at each victim scan (the
//! manager asks for victims only when it needs pages), so the policy needs
//! no configuration.

use super::page_links::PageLinks;
use super::paged::{reclaim_by_key_ids, KeyIds, PageKeys, PagePolicy};
use super::ScanReport;
use crate::page::PageKey;
use rustc_hash::FxHashMap;

/// Which queue an isolated page came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum From {
    #[default]
    Small,
    Main,
}

/// The project's live policy; see the module documentation.
#[derive(Debug, Default)]
pub struct Tide {
    core: TidePages,
    ids: KeyIds,
}

impl Tide {
    /// An empty cache.
    pub fn new() -> Self {
        Tide::default()
    }

    /// The current target size of the probation queue.
    pub fn target(&self) -> f64 {
        self.core.target
    }
}

reclaim_by_key_ids!(Tide);

/// [`Tide`] by page: its queues hold page numbers; the ghosts, which
/// outlive the pages, and the fresh pages, checked by key at the next scan,
/// are keys.
#[derive(Debug)]
struct TidePages {
    /// Queues `SMALL` and `MAIN`; an isolated page is detached, its state
    /// the queue it came from.
    lists: PageLinks<Entry>,
    /// Evicted keys: where they were evicted from and the eviction's
    /// sequence number. Only the last `GHOST_WINDOW` × `capacity`
    /// evictions count.
    ghosts: FxHashMap<PageKey, (From, u64)>,
    /// Evictions in order, to expire ghosts.
    ghost_order: std::collections::VecDeque<(PageKey, u64)>,
    /// Live ghosts from each queue.
    ghost_small: usize,
    ghost_main: usize,
    evictions: u64,
    /// Pages that joined `small` since the last scan (their bit is the
    /// fault's own).
    fresh: Vec<PageKey>,
    /// The cache size: resident pages at the latest scan (0 before one).
    capacity: usize,
    /// Target size of `small`.
    target: f64,
    has_evicted: bool,
    /// Eviction number of the latest ghost that faulted back.
    last_ghost_seq: u64,
}

/// A page's state: the queue it is in (or was isolated from) and its
/// frequency credit in `main`.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    from: From,
    freq: u8,
}

/// The most frequency credit a page of `main` can hold: a page found
/// accessed by `main`'s hand gains one (up to this), and one found idle
/// spends one instead of being evicted (S3-FIFO's 2-bit counter, fed by
/// accessed bits instead of hits).
const MAX_FREQ: u8 = 3;

/// The ghost window, as a fraction of the cache (numerator, denominator):
/// a fault counts as a ghost hit if its key was evicted within the last
/// 4/5 × *c* evictions. Measured with `policy_goals` (docs/POLICIES.md):
/// 0.7–0.9 *c* all meet the goals, 0.8 best on all three means; a whole
/// *c* leaves sprite at 40 % just over the guard, 1.5 *c* and more let
/// zigzag and backf steer the target wrongly. (S3-FIFO's ghost queue is
/// 0.9 of the cache.)
const GHOST_WINDOW: (u64, u64) = (4, 5);

/// How long (in evictions, as a multiple of the cache size) a reversal is
/// treated as walking back over the first fill; see the module
/// documentation.
const WARMUP: u64 = 3;

const SMALL: usize = 0;
const MAIN: usize = 1;

impl Default for TidePages {
    fn default() -> Self {
        TidePages {
            lists: PageLinks::new(2),
            ghosts: FxHashMap::default(),
            ghost_order: Default::default(),
            ghost_small: 0,
            ghost_main: 0,
            evictions: 0,
            fresh: Vec::new(),
            capacity: 0,
            target: 0.0,
            has_evicted: false,
            last_ghost_seq: 0,
        }
    }
}

impl TidePages {
    fn knows(&self, page: u32) -> bool {
        self.lists.is_known(page)
    }

    /// Records an eviction and expires ghosts older than the window
    /// (`GHOST_WINDOW` of the cache): a fault on a key evicted more than
    /// about `capacity` evictions ago would not have been a hit in a cache
    /// twice as large either, so it is no evidence for either queue (this
    /// keeps loops longer than that window
    /// from steering the target).
    fn remember(&mut self, key: PageKey, from: From) {
        self.evictions += 1;
        let seq = self.evictions;
        if let Some((old, _)) = self.ghosts.insert(key, (from, seq)) {
            self.forget_count(old);
        }
        match from {
            From::Small => self.ghost_small += 1,
            From::Main => self.ghost_main += 1,
        }
        self.ghost_order.push_back((key, seq));
        let window = (self.capacity as u64 * GHOST_WINDOW.0 / GHOST_WINDOW.1).max(1);
        while let Some(&(k, s)) = self.ghost_order.front() {
            if seq - s < window {
                break;
            }
            self.ghost_order.pop_front();
            if let Some(&(from, s2)) = self.ghosts.get(&k) {
                if s2 == s {
                    self.ghosts.remove(&k);
                    self.forget_count(from);
                }
            }
        }
    }

    fn main_entry(&self, freq: u8) -> Entry {
        Entry {
            from: From::Main,
            freq: freq.min(MAX_FREQ),
        }
    }

    fn forget_count(&mut self, from: From) {
        match from {
            From::Small => self.ghost_small -= 1,
            From::Main => self.ghost_main -= 1,
        }
    }
}

impl PagePolicy for TidePages {
    fn name(&self) -> &'static str {
        "tide"
    }

    fn inserted(&mut self, key: PageKey, page: u32) {
        let (gs, gm) = (self.ghost_small as f64, self.ghost_main as f64);
        let found = self.ghosts.remove(&key);
        let ghost = found.map(|(from, _)| from);
        let mut walked_back = false;
        if let Some((from, seq)) = found {
            self.forget_count(from);
            walked_back = from == From::Small
                && seq + 1 == self.last_ghost_seq
                && self.evictions <= WARMUP * self.capacity as u64;
            self.last_ghost_seq = seq;
        }
        if walked_back {
            let hand = self.lists.front(MAIN);
            self.lists
                .insert_before(MAIN, page, hand, self.main_entry(0));
        } else if ghost == Some(From::Small) {
            let d = if gs >= gm { 1.0 } else { gm / gs };
            self.target = (self.target + d).min(self.capacity as f64);
            self.lists.push_back(MAIN, page, self.main_entry(0));
        } else if ghost == Some(From::Main) {
            let d = if gm >= gs { 1.0 } else { gs / gm };
            self.target = (self.target - d).max(1.0);
            self.lists.push_back(MAIN, page, self.main_entry(0));
        } else if !self.has_evicted {
            self.lists.push_back(MAIN, page, self.main_entry(0));
        } else {
            let e = Entry {
                from: From::Small,
                freq: 0,
            };
            self.lists.push_back(SMALL, page, e);
        }
        // The fault's own bit is no evidence of reuse, wherever the page
        // went. (Not for the first fill: its pages' bits make no
        // difference to the counts, and before the first scan the list
        // would only grow.)
        if self.has_evicted {
            self.fresh.push(key);
        }
    }

    fn select_victims(
        &mut self,
        max: usize,
        keys: &dyn PageKeys,
        test_and_clear_young: &mut dyn FnMut(u32) -> bool,
        victims: &mut Vec<u32>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        // The cache size is what is resident when victims are needed (the
        // manager asks only when it needs pages); it follows the pool as VA
        // pages take some of it.
        let len = self.lists.len();
        if self.capacity == 0 {
            self.target = (len as f64 / 10.0).max(1.0);
        }
        self.capacity = len;
        self.target = self.target.min(len as f64).max(1.0);
        self.has_evicted = true;
        for key in self.fresh.drain(..) {
            // By key: the page a fresh key came in on may since have gone
            // to another key, and the key to another page.
            if let Some(page) = keys.page(key).filter(|&p| self.lists.contains(p)) {
                report.scanned += 1;
                test_and_clear_young(page);
            }
        }
        // Each page of `small` is promoted at most once and each page of
        // `main` spends its credit (at most MAX_FREQ) and its bit in at most
        // MAX_FREQ + 1 turns, so this bound is never the limit for a
        // single-threaded caller; it stops pathological loops.
        let budget = (usize::from(MAX_FREQ) + 2) * (len + max);
        let mut steps = 0;
        while victims.len() < max && steps < budget {
            steps += 1;
            let small = self.lists.queue_len(SMALL);
            let from_small =
                small > 0 && (small as f64 > self.target || self.lists.queue_len(MAIN) == 0);
            let q = if from_small { SMALL } else { MAIN };
            let Some(page) = self.lists.detach_front(q) else {
                break;
            };
            report.scanned += 1;
            let e = self.lists.state(page).expect("a detached page is known");
            if test_and_clear_young(page) {
                report.second_chances += 1;
                let freq = if q == SMALL { 0 } else { e.freq + 1 };
                self.lists.push_back(MAIN, page, self.main_entry(freq));
            } else if q == MAIN && e.freq > 0 {
                report.second_chances += 1;
                self.lists
                    .push_back(MAIN, page, self.main_entry(e.freq - 1));
            } else {
                victims.push(page);
            }
        }
        report
    }

    fn put_back(&mut self, _key: PageKey, page: u32) {
        self.lists.push_back(MAIN, page, self.main_entry(0));
    }

    fn evicted(&mut self, key: PageKey, page: u32) {
        if !self.lists.contains(page) {
            if let Some(e) = self.lists.remove(page) {
                self.remember(key, e.from);
            }
        }
    }

    fn removed(&mut self, key: PageKey, page: u32) {
        self.lists.remove(page);
        if let Some((from, _)) = self.ghosts.remove(&key) {
            self.forget_count(from);
        }
    }

    fn len(&self) -> usize {
        self.lists.len()
    }

    fn contains(&self, _key: PageKey, page: u32) -> bool {
        self.lists.contains(page)
    }
}
