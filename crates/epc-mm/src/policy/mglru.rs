//! MGLRU, Linux's multi-generational LRU (Linux 6.1+), live, adapted to
//! what the EPC reclaimer sees.
//!
//! Sources (behaviour only, no kernel code): the design notes
//! `Documentation/mm/multigen_lru.rst` ("Workflow overview", "Aging",
//! "Eviction", "Summary") and the admin guide
//! `Documentation/admin-guide/mm/multigen_lru.rst` (generations as
//! histogram bins; the two youngest generations are "not fully aged
//! (equivalent to the active list) and therefore cannot be evicted").
//!
//! What is kept from the design:
//!
//! * **Generations.** Pages are grouped into generations of similar
//!   recency, numbered by monotonically increasing sequence numbers
//!   `min_seq..=max_seq` in a sliding window over `GENS` = 4 lists
//!   (`seq % GENS` indexes the list, as Linux's `MAX_NR_GENS` = 4).
//! * **Aging** produces a young generation: it increments `max_seq` and
//!   scans accessed bits, moving every page found accessed (its bit is
//!   cleared) to the new youngest generation; the others stay, so cold
//!   pages are demoted just by the new generation's birth. It runs when the
//!   window has fewer than `GENS` generations, i.e. once per generation the
//!   eviction consumes (Linux's producer-consumer loop).
//! * **Eviction** consumes the oldest generation, head first, and never
//!   the two youngest. As Linux's eviction checks the accessed bit of a
//!   candidate through the reverse map, a candidate found accessed is
//!   promoted to the youngest generation instead.
//! * **Tiers and the feedback loop.** Each page counts how often it was
//!   found accessed since it came in (`refs`); its tier is
//!   `order_base_2(refs + 1)` capped at 3 (Linux: `order_base_2(N)` of the
//!   accesses through file descriptors, four tiers). An eviction leaves a
//!   shadow entry (the generation it left, its tier); a fault on a key
//!   whose shadow is recent is a *refault* of that tier, and the page comes
//!   back with its tier's references. Per tier the policy counts refaults
//!   and "total" (evicted + protected) pages, in the current oldest
//!   generation (proportional term) and in a history halved each time
//!   `min_seq` advances (integral term with decay). Tier 0, the pages used
//!   once, is the baseline: a tier whose refault ratio exceeds 1.5 times
//!   the baseline's (with some evidence) is protected, with every tier above
//!   it: its unaccessed candidates move to generation `min_seq + 1`
//!   instead of being evicted, and drop to tier 0 (the protection is spent;
//!   tier 0 is never protected, so the eviction always progresses).
//!
//! What differs, and why (the EPC reclaimer's view):
//!
//! * **No page-table walks, no Bloom filters, no look-around.** The only
//!   accessed bits the reclaimer can test are those of the pages on its
//!   list (through the owner's callback), so the aging walk is a pass over
//!   the resident pages, and spatial locality is not exploited. It costs
//!   one bit test per resident page per generation, about `GENS`-1 tests
//!   per eviction in steady state (reported in `ScanReport::scanned`).
//! * **One type, one channel.** EPC pages are all "anonymous" and all
//!   accessed through page tables, so there is no anon/file balance (the
//!   other use of Linux's controller) and the tiers count accesses seen by
//!   scans instead of accesses through file descriptors.
//! * **A faulted page joins the youngest generation** (it was just accessed
//!   through its page table, the channel Linux protects most); a page put
//!   back after a declined reclaim joins `min_seq + 1`.
//! * **Shadow entries** are kept for the last `capacity` evictions (the
//!   cache size is the resident count at each victim scan); a refault counts
//!   while its generation is within the window (`GENS` generations old).
//! * No `min_ttl_ms` thrashing protection and no time stamps: the
//!   simulator and deterministic mode have no clock.

use super::page_links::PageLinks;
use super::paged::{reclaim_by_key_ids, KeyIds, PageKeys, PagePolicy};
use super::ScanReport;
use crate::page::PageKey;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Generations in the sliding window (Linux's `MAX_NR_GENS`).
const GENS: u64 = 4;
/// Tiers (Linux's `MAX_NR_TIERS`).
const TIERS: usize = 4;
/// Refaults a tier needs before it can be protected.
const MIN_EVIDENCE: f64 = 4.0;
/// How much higher than the baseline's a tier's refault ratio must be for
/// the tier to be protected.
const PROTECT_RATIO: f64 = 1.5;

fn tier(refs: u8) -> usize {
    // order_base_2(refs + 1): 0 → 0, 1 → 1, 2..=3 → 2, 4.. → 3.
    let n = u32::from(refs) + 1;
    let ob2 = (u32::BITS - (n - 1).leading_zeros()) as usize;
    ob2.min(TIERS - 1)
}

/// The smallest `refs` whose tier is `t` (a refaulting page gets its tier
/// back).
fn refs_of_tier(t: usize) -> u8 {
    match t {
        0 => 0,
        t => (1u8 << (t - 1)).max(1),
    }
}

/// Refault feedback per tier: current generation and decayed history.
#[derive(Clone, Copy, Debug, Default)]
struct TierStats {
    refaulted: f64,
    total: f64,
    avg_refaulted: f64,
    avg_total: f64,
}

impl TierStats {
    fn ratio_terms(&self) -> (f64, f64) {
        (
            self.avg_refaulted + self.refaulted,
            self.avg_total + self.total,
        )
    }

    /// `min_seq` advanced: fold the current counts into the history.
    fn fold(&mut self) {
        self.avg_refaulted = (self.avg_refaulted + self.refaulted) / 2.0;
        self.avg_total = (self.avg_total + self.total) / 2.0;
        self.refaulted = 0.0;
        self.total = 0.0;
    }
}

/// Linux's multi-generational LRU, adapted; see the module docs.
#[derive(Debug, Default)]
pub struct Mglru {
    core: MglruPages,
    ids: KeyIds,
}

impl Mglru {
    /// An empty cache.
    pub fn new() -> Self {
        Mglru::default()
    }

    /// `(min_seq, max_seq)`: the oldest and youngest generation numbers.
    pub fn seqs(&self) -> (u64, u64) {
        (self.core.min_seq, self.core.max_seq)
    }

    /// Resident pages in generation `seq` (0 outside the window).
    pub fn generation_len(&self, seq: u64) -> usize {
        if seq < self.core.min_seq || seq > self.core.max_seq {
            return 0;
        }
        self.core.gens.queue_len((seq % GENS) as usize)
    }
}

reclaim_by_key_ids!(Mglru);

/// [`Mglru`] by page: the generations hold page numbers; the shadows,
/// which outlive the pages, are keys.
#[derive(Debug)]
struct MglruPages {
    /// One queue per generation (`seq % GENS`); per-page state: `refs`.
    /// Isolated victims are detached and keep their `refs`.
    gens: PageLinks<u8>,
    min_seq: u64,
    max_seq: u64,
    tiers: [TierStats; TIERS],
    /// Evicted keys: the `min_seq` they left at and their tier.
    shadows: FxHashMap<PageKey, (u64, u8, u64)>,
    /// Evictions in order, to expire shadows: (key, eviction number).
    shadow_order: VecDeque<(PageKey, u64)>,
    evictions: u64,
    /// Cache size: the resident count at the latest victim scan.
    capacity: usize,
    scratch: Vec<u32>,
}

impl Default for MglruPages {
    fn default() -> Self {
        MglruPages {
            gens: PageLinks::new(GENS as usize),
            min_seq: 0,
            max_seq: 0,
            tiers: [TierStats::default(); TIERS],
            shadows: FxHashMap::default(),
            shadow_order: VecDeque::new(),
            evictions: 0,
            capacity: 0,
            scratch: Vec::new(),
        }
    }
}

impl MglruPages {
    fn knows(&self, page: u32) -> bool {
        self.gens.is_known(page)
    }

    fn slot(seq: u64) -> usize {
        (seq % GENS) as usize
    }

    /// The lowest protected tier (`TIERS` if none): the first tier whose
    /// refault ratio exceeds the baseline's by `PROTECT_RATIO`.
    fn protected_from(&self) -> usize {
        let (r0, t0) = self.tiers[0].ratio_terms();
        let base = (r0 + 1.0) / (t0 + 1.0);
        (1..TIERS)
            .find(|&t| {
                let (r, total) = self.tiers[t].ratio_terms();
                r >= MIN_EVIDENCE && r / total.max(1.0) > PROTECT_RATIO * base
            })
            .unwrap_or(TIERS)
    }

    /// Aging: a new youngest generation, and every page found accessed
    /// moves into it.
    fn age(&mut self, young: &mut dyn FnMut(u32) -> bool, report: &mut ScanReport) {
        self.max_seq += 1;
        let new = Self::slot(self.max_seq);
        let mut pages = std::mem::take(&mut self.scratch);
        for seq in self.min_seq..self.max_seq {
            pages.clear();
            pages.extend(self.gens.iter(Self::slot(seq)));
            for &page in &pages {
                report.scanned += 1;
                if young(page) {
                    let refs = self.gens.state(page).unwrap_or(0);
                    self.gens.move_to_back(new, page);
                    self.gens.set_state(page, refs.saturating_add(1));
                }
            }
        }
        pages.clear();
        self.scratch = pages;
    }

    /// Drops empty oldest generations (folding the feedback history).
    fn advance_min(&mut self) {
        while self.min_seq < self.max_seq && self.gens.queue_len(Self::slot(self.min_seq)) == 0 {
            self.min_seq += 1;
            for t in &mut self.tiers {
                t.fold();
            }
        }
    }

    fn remember(&mut self, key: PageKey, refs: u8) {
        self.evictions += 1;
        let n = self.evictions;
        let t = tier(refs);
        self.tiers[t].total += 1.0;
        self.shadows.insert(key, (self.min_seq, t as u8, n));
        self.shadow_order.push_back((key, n));
        let window = self.capacity.max(1) as u64;
        while let Some(&(k, at)) = self.shadow_order.front() {
            if n - at < window {
                break;
            }
            self.shadow_order.pop_front();
            if self.shadows.get(&k).is_some_and(|s| s.2 == at) {
                self.shadows.remove(&k);
            }
        }
    }
}

impl PagePolicy for MglruPages {
    fn name(&self) -> &'static str {
        "mglru"
    }

    fn inserted(&mut self, key: PageKey, page: u32) {
        let mut refs = 0;
        if let Some((seq, t, _)) = self.shadows.remove(&key) {
            if seq + GENS > self.min_seq {
                let t = t as usize;
                self.tiers[t].refaulted += 1.0;
                refs = refs_of_tier(t);
            }
        }
        self.gens.push_back(Self::slot(self.max_seq), page, refs);
    }

    fn select_victims(
        &mut self,
        max: usize,
        _keys: &dyn PageKeys,
        test_and_clear_young: &mut dyn FnMut(u32) -> bool,
        victims: &mut Vec<u32>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        self.capacity = self.gens.len();
        let protect = self.protected_from();
        // Each candidate is promoted, protected or taken; each aging
        // clears every bit. Within a few generations a victim comes, so
        // the bound only stops owners whose bits are set as fast as they
        // are cleared.
        let budget = 4 * (self.gens.len() + max) + 16;
        let mut steps = 0;
        while victims.len() < max && !self.gens.is_empty() && steps < budget {
            steps += 1;
            self.advance_min();
            if self.max_seq - self.min_seq + 1 < GENS {
                self.age(test_and_clear_young, &mut report);
                continue;
            }
            let old = Self::slot(self.min_seq);
            let Some(page) = self.gens.detach_front(old) else {
                continue;
            };
            let refs = self.gens.state(page).unwrap_or(0);
            report.scanned += 1;
            if test_and_clear_young(page) {
                report.second_chances += 1;
                self.gens
                    .push_back(Self::slot(self.max_seq), page, refs.saturating_add(1));
            } else if tier(refs) >= protect {
                // Protection is spent: the page drops to tier 0 and must be
                // found accessed again to climb (tier 0 is never protected,
                // so the eviction always progresses).
                self.tiers[tier(refs)].total += 1.0;
                self.gens.push_back(Self::slot(self.min_seq + 1), page, 0);
            } else {
                victims.push(page);
            }
        }
        report
    }

    fn put_back(&mut self, _key: PageKey, page: u32) {
        let refs = self.gens.state(page).unwrap_or(0);
        let seq = (self.min_seq + 1).min(self.max_seq);
        self.gens.push_back(Self::slot(seq), page, refs);
    }

    fn evicted(&mut self, key: PageKey, page: u32) {
        if !self.gens.contains(page) {
            if let Some(refs) = self.gens.remove(page) {
                self.remember(key, refs);
            }
        }
    }

    fn removed(&mut self, key: PageKey, page: u32) {
        self.gens.remove(page);
        self.shadows.remove(&key);
    }

    fn len(&self) -> usize {
        self.gens.len()
    }

    fn contains(&self, _key: PageKey, page: u32) -> bool {
        self.gens.contains(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::OwnerId;
    use crate::policy::ReclaimPolicy;
    use std::collections::HashSet;

    fn k(a: u64) -> PageKey {
        PageKey::new(OwnerId(5), a)
    }

    #[test]
    fn tiers_are_order_base_2() {
        let t: Vec<usize> = (0..8).map(tier).collect();
        assert_eq!(t, vec![0, 1, 2, 2, 3, 3, 3, 3]);
        for t in 0..TIERS {
            assert_eq!(tier(refs_of_tier(t)), t);
        }
    }

    #[test]
    fn aging_builds_generations_and_eviction_takes_the_oldest() {
        let mut p = Mglru::new();
        for a in 0..8 {
            p.inserted(k(a));
        }
        // Pages 0..4 keep being used; 4..8 are touched only by their fault.
        let mut bits: HashSet<PageKey> = (0..8).map(k).collect();
        let mut v = Vec::new();
        let r = p.select_victims(
            2,
            &mut |key| {
                let y = bits.remove(&key);
                if key.addr < 4 {
                    bits.insert(key);
                }
                y
            },
            &mut v,
        );
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|key| key.addr >= 4), "{v:?}");
        let (min, max) = p.seqs();
        assert_eq!(max - min + 1, GENS, "the window is full");
        assert!(r.scanned >= 8, "aging tested every page");
        // The hot pages sit in the youngest generation.
        assert!(p.generation_len(max) >= 4);
        for key in v {
            p.evicted(key);
        }
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn refaults_of_a_tier_protect_it() {
        let mut p = Mglru::new();
        // Tier 2 pages refault a lot, tier 0 pages never: after the
        // feedback, tier-2 candidates are protected.
        p.core.tiers[2].refaulted = 20.0;
        p.core.tiers[2].total = 25.0;
        p.core.tiers[0].total = 100.0;
        assert_eq!(p.core.protected_from(), 2);
        p.core.tiers[0].refaulted = 90.0;
        assert_eq!(p.core.protected_from(), TIERS, "no tier above the baseline");
        let mut q = Mglru::new();
        q.core.tiers = p.core.tiers;
        q.core.tiers[0].refaulted = 0.0;
        for a in 0..6 {
            q.inserted(k(a));
        }
        // Page 0 has tier 2: it survives the pass that takes the others,
        // and its protection is spent (tier 0 again).
        let id = q.ids.get(k(0)).expect("known");
        q.core.gens.set_state(id, 2);
        let mut v = Vec::new();
        q.select_victims(5, &mut |_| false, &mut v);
        assert!(!v.contains(&k(0)), "{v:?}");
        assert!(q.contains(k(0)));
        assert_eq!(v.len(), 5);
        assert_eq!(q.core.gens.state(id), Some(0));
    }
}
