//! LIRS (Low Inter-reference Recency Set), offline only.
//!
//! Reference: S. Jiang and X. Zhang, "LIRS: An Efficient Low
//! Inter-reference Recency Set Replacement Policy to Improve Buffer Cache
//! Performance", SIGMETRICS 2002; parameters as in the authors' `lirs.c`:
//! the resident HIR part is 1 % of the cache (at least 2 pages).
//!
//! Pages are LIR (low inter-reference recency: kept) or HIR. The stack S
//! holds recency order of LIR pages and of HIR pages (resident or not) seen
//! recently; its bottom is always a LIR page ("pruning" removes HIR entries
//! below the lowest LIR one). The queue Q holds resident HIR pages; a miss
//! evicts Q's front. A HIR page referenced again while still in S has a
//! smaller reuse distance than the bottom LIR page, so the two swap roles.
//! Every hit reorders S, so LIRS is offline only; CLOCK-Pro is its
//! accessed-bit form.

use super::OfflinePolicy;
use epc_mm::KeyList;
use epc_mm::PageKey;
use rustc_hash::FxHashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Lir,
    HirResident,
    HirGhost,
}

/// LIRS over a cache of `capacity` pages.
#[derive(Debug)]
pub struct Lirs {
    lir_target: usize,
    lir: usize,
    resident: usize,
    state: FxHashMap<PageKey, State>,
    /// Stack S: bottom (oldest) at the front, top at the back.
    s: KeyList,
    /// Queue Q of resident HIR pages: next victim at the front.
    q: KeyList,
}

impl Lirs {
    /// LIRS with the authors' default: 1 % of the cache for resident HIR
    /// pages, at least 2 (and at least one LIR page when the cache allows).
    pub fn new(capacity: usize) -> Self {
        // Tiny caches keep one LIR page (a 1-page cache has no HIR room:
        // its single page is LIR and a miss replaces it).
        let hir = match capacity {
            0 | 1 => 0,
            2 => 1,
            _ => (capacity / 100).max(2).min(capacity - 1),
        };
        Lirs {
            lir_target: capacity.saturating_sub(hir).max(1),
            lir: 0,
            resident: 0,
            state: FxHashMap::default(),
            s: KeyList::default(),
            q: KeyList::default(),
        }
    }

    /// Removes HIR entries from the bottom of S until a LIR page is there.
    fn prune(&mut self) {
        while let Some(k) = self.s.front() {
            match self.state[&k] {
                State::Lir => break,
                State::HirResident => {
                    self.s.pop_front();
                }
                State::HirGhost => {
                    self.s.pop_front();
                    self.state.remove(&k);
                }
            }
        }
    }

    /// If the LIR set is over its target, the bottom LIR page becomes a
    /// resident HIR page at Q's end.
    fn demote_bottom(&mut self) {
        if self.lir <= self.lir_target {
            return;
        }
        self.prune();
        if let Some(k) = self.s.pop_front() {
            debug_assert_eq!(self.state[&k], State::Lir);
            self.state.insert(k, State::HirResident);
            self.lir -= 1;
            self.q.push_back(k);
            self.prune();
        }
    }

    fn make_lir(&mut self, key: PageKey) {
        self.state.insert(key, State::Lir);
        self.lir += 1;
        self.s.remove(key);
        self.s.push_back(key);
    }
}

impl OfflinePolicy for Lirs {
    fn name(&self) -> &'static str {
        "lirs"
    }

    fn hit(&mut self, key: PageKey, _at: u64) {
        match self.state.get(&key).copied() {
            Some(State::Lir) => {
                let was_bottom = self.s.front() == Some(key);
                self.s.move_to_back(key);
                if was_bottom {
                    self.prune();
                }
            }
            Some(State::HirResident) => {
                if self.s.contains(key) {
                    self.q.remove(key);
                    self.make_lir(key);
                    self.demote_bottom();
                } else {
                    self.s.push_back(key);
                    self.q.move_to_back(key);
                }
            }
            _ => {}
        }
    }

    fn inserted(&mut self, key: PageKey, _at: u64) {
        self.resident += 1;
        let ghost_in_s = self.state.get(&key) == Some(&State::HirGhost);
        if self.lir < self.lir_target {
            // Warming up: the first pages fill the LIR set.
            self.make_lir(key);
        } else if ghost_in_s {
            self.make_lir(key);
            self.demote_bottom();
        } else {
            self.state.insert(key, State::HirResident);
            self.s.remove(key);
            self.s.push_back(key);
            self.q.push_back(key);
        }
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        let victim = match self.q.pop_front() {
            Some(k) => k,
            None => {
                // Only LIR pages resident (tiny caches): take the bottom.
                let k = self.s.front()?;
                self.s.remove(k);
                self.lir -= 1;
                self.state.remove(&k);
                self.prune();
                self.resident -= 1;
                return Some(k);
            }
        };
        if self.s.contains(victim) {
            self.state.insert(victim, State::HirGhost);
        } else {
            self.state.remove(&victim);
        }
        self.resident -= 1;
        Some(victim)
    }

    fn removed(&mut self, key: PageKey) {
        match self.state.remove(&key) {
            Some(State::Lir) => {
                self.lir -= 1;
                self.resident -= 1;
            }
            Some(State::HirResident) => self.resident -= 1,
            _ => {}
        }
        self.s.remove(key);
        self.q.remove(key);
        self.prune();
    }

    fn len(&self) -> usize {
        self.resident
    }
}
