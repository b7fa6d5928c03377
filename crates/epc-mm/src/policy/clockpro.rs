//! CLOCK-Pro, live.
//!
//! Reference: S. Jiang, F. Chen and X. Zhang, "CLOCK-Pro: An Effective
//! Improvement of the CLOCK Replacement", USENIX ATC 2005. Settings as the
//! anchors' runs of the authors' `clock-pro.c`: a fixed cold allocation of
//! 5 % of the cache (at least one page) and at most as many non-resident
//! entries as the cache has pages.
//!
//! One circular list holds hot pages, resident cold pages and non-resident
//! cold pages still in their test period; new entries go in just behind
//! `hand_hot` (the list head). Three hands turn the same way:
//!
//! * `hand_cold` finds victims: a resident cold page whose bit is set is
//!   promoted to hot (its reuse distance was shorter than a hot page's); one
//!   whose bit is clear is evicted and stays in the list as a non-resident
//!   test entry. Whenever hot pages exceed their share, `hand_hot` runs.
//! * `hand_hot` clears the bits of hot pages and demotes the first one it
//!   finds unreferenced to cold; it drops test entries it passes.
//! * `hand_test` drops test entries beyond the non-resident limit.
//!
//! A fault on a key still in its test period brings the page in hot. It uses
//! only accessed bits, tested (and cleared) by the hands, so it runs live:
//! it is LIRS in CLOCK's clothes.

use super::key_list::KeyLists;
use super::{ReclaimPolicy, ScanReport};
use crate::page::PageKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hot,
    /// Resident cold page still in its test period.
    Cold,
    /// Resident cold page whose test period is over.
    ColdDone,
    /// Non-resident, in its test period.
    Test,
    /// Selected as a victim in its test period, not yet reported evicted
    /// or put back.
    Isolated,
    /// Selected as a victim after its test period.
    IsolatedDone,
}

/// CLOCK-Pro with a fixed 5 % cold allocation; see the module docs.
#[derive(Debug)]
pub struct ClockPro {
    /// The clock, each entry with its kind (one queue, never detached).
    ring: KeyLists<Kind>,
    hand_hot: Option<PageKey>,
    hand_cold: Option<PageKey>,
    hand_test: Option<PageKey>,
    hot: usize,
    cold: usize,
    test: usize,
    /// Cache size: the resident count at the latest victim scan.
    capacity: usize,
}

type Young<'a> = &'a mut dyn FnMut(PageKey) -> bool;

impl Default for ClockPro {
    fn default() -> Self {
        ClockPro {
            ring: KeyLists::new(1),
            hand_hot: None,
            hand_cold: None,
            hand_test: None,
            hot: 0,
            cold: 0,
            test: 0,
            capacity: 0,
        }
    }
}

impl ClockPro {
    /// An empty cache.
    pub fn new() -> Self {
        ClockPro::default()
    }

    fn cold_target(&self) -> usize {
        (self.capacity / 20).max(1)
    }

    /// The entry after `key`, wrapping around.
    fn next(&self, key: PageKey) -> Option<PageKey> {
        self.ring.next_of(key).or_else(|| self.ring.front(0))
    }

    /// Removes an entry from the ring, moving any hand off it.
    fn unlink(&mut self, key: PageKey) {
        let next = self.next(key).filter(|&n| n != key);
        for hand in [&mut self.hand_hot, &mut self.hand_cold, &mut self.hand_test] {
            if *hand == Some(key) {
                *hand = next;
            }
        }
        self.ring.remove(key);
    }

    fn add(&mut self, key: PageKey, kind: Kind) {
        self.ring.insert_before(0, key, self.hand_hot, kind);
        if self.hand_hot.is_none() {
            self.hand_hot = Some(key);
            self.hand_cold = Some(key);
            self.hand_test = Some(key);
        }
        match kind {
            Kind::Hot => self.hot += 1,
            Kind::Cold | Kind::ColdDone => self.cold += 1,
            _ => {}
        }
    }

    fn run_hand_cold(&mut self, young: Young<'_>, report: &mut ScanReport) -> Option<PageKey> {
        let key = self.hand_cold.or_else(|| self.ring.front(0))?;
        let mut victim = None;
        let next = self.next(key);
        let kind = self.ring.state(key);
        if matches!(kind, Some(Kind::Cold | Kind::ColdDone)) {
            report.scanned += 1;
            if young(key) {
                report.second_chances += 1;
                // Moved to the head: promoted if re-used within its test
                // period, else given a new test period.
                let hot = kind == Some(Kind::Cold);
                self.cold -= 1;
                self.hand_cold = next.filter(|&n| n != key);
                self.unlink(key);
                self.add(key, if hot { Kind::Hot } else { Kind::Cold });
                self.balance(young, report);
                return None;
            }
            self.cold -= 1;
            if kind == Some(Kind::Cold) {
                self.ring.set_state(key, Kind::Isolated);
            } else {
                self.ring.set_state(key, Kind::IsolatedDone);
            }
            victim = Some(key);
        }
        self.hand_cold = next;
        self.balance(young, report);
        victim
    }

    /// Runs `hand_hot` while hot pages exceed their share. Two turns of
    /// the ring demote at least one page (the first clears every bit), so
    /// the bound only matters if bits are set as fast as the hand clears.
    fn balance(&mut self, young: Young<'_>, report: &mut ScanReport) {
        let mut steps = 2 * self.ring.len() + 2;
        while self.hot > self.capacity.saturating_sub(self.cold_target()) && steps > 0 {
            steps -= 1;
            self.run_hand_hot(young, report);
        }
    }

    fn run_hand_hot(&mut self, young: Young<'_>, report: &mut ScanReport) {
        if self.hand_hot == self.hand_test {
            self.run_hand_test();
        }
        let Some(key) = self.hand_hot.or_else(|| self.ring.front(0)) else {
            return;
        };
        let next = self.next(key);
        match self.ring.state(key) {
            Some(Kind::Hot) => {
                report.scanned += 1;
                if young(key) {
                    report.second_chances += 1;
                } else {
                    self.ring.set_state(key, Kind::ColdDone);
                    self.hot -= 1;
                    self.cold += 1;
                }
            }
            Some(Kind::Cold) => {
                self.ring.set_state(key, Kind::ColdDone);
            }
            Some(Kind::Test) => {
                self.drop_test(key);
            }
            _ => {}
        }
        if self.ring.is_known(key) {
            self.hand_hot = next;
        }
    }

    fn run_hand_test(&mut self) {
        let Some(key) = self.hand_test.or_else(|| self.ring.front(0)) else {
            return;
        };
        let next = self.next(key);
        match self.ring.state(key) {
            Some(Kind::Test) => self.drop_test(key),
            Some(Kind::Cold) => {
                self.ring.set_state(key, Kind::ColdDone);
            }
            _ => {}
        }
        if self.ring.is_known(key) {
            self.hand_test = next;
        }
    }

    fn drop_test(&mut self, key: PageKey) {
        self.unlink(key);
        self.test -= 1;
    }
}

impl ReclaimPolicy for ClockPro {
    fn name(&self) -> &'static str {
        "clockpro"
    }

    fn inserted(&mut self, key: PageKey) {
        if self.ring.state(key) == Some(Kind::Test) {
            // Re-referenced within its test period: hot.
            self.drop_test(key);
            self.add(key, Kind::Hot);
        } else {
            if self.ring.is_known(key) {
                self.unlink(key);
            }
            // Until the cache first fills (no victim asked yet), pages come
            // in hot, as LIRS's first pages fill its LIR set; the first scan
            // demotes the oldest of them down to the hot share.
            let kind = if self.capacity == 0 {
                Kind::Hot
            } else {
                Kind::Cold
            };
            self.add(key, kind);
        }
    }

    fn select_victims(
        &mut self,
        max: usize,
        test_and_clear_young: &mut dyn FnMut(PageKey) -> bool,
        victims: &mut Vec<PageKey>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        // The cache size is what is resident when victims are needed (the
        // manager asks only when it needs pages). Not a running maximum: the
        // pages the manager can give out shrink as VA pages are allocated,
        // and a stale, larger size would leave every page hot and no cold
        // page to take.
        self.capacity = self.len();
        // Each turn of `hand_cold` either takes a victim or promotes a page,
        // and promotions make `hand_hot` demote pages back to cold, so a
        // victim always comes within a few turns; the bound only guards
        // against owners whose bits are set faster than the hands turn.
        let budget = 4 * (self.ring.len() + max) + 16;
        let mut steps = 0;
        while victims.len() < max && self.len() > 0 && steps < budget {
            steps += 1;
            if let Some(v) = self.run_hand_cold(test_and_clear_young, &mut report) {
                victims.push(v);
            }
        }
        report
    }

    fn put_back(&mut self, key: PageKey) {
        let back = match self.ring.state(key) {
            Some(Kind::Isolated) => Kind::Cold,
            Some(Kind::IsolatedDone) => Kind::ColdDone,
            _ => return,
        };
        self.ring.set_state(key, back);
        self.cold += 1;
    }

    fn evicted(&mut self, key: PageKey) {
        if self.ring.state(key) == Some(Kind::IsolatedDone) {
            // Out of its test period: no history to keep.
            self.unlink(key);
        } else if self.ring.state(key) == Some(Kind::Isolated) {
            self.ring.set_state(key, Kind::Test);
            self.test += 1;
            // Over the non-resident limit: `hand_test` drops the oldest
            // test entries (one turn of the ring at most).
            let mut steps = self.ring.len();
            while self.test > self.capacity.max(1) && steps > 0 {
                steps -= 1;
                self.run_hand_test();
            }
        }
    }

    fn removed(&mut self, key: PageKey) {
        match self.ring.state(key) {
            Some(Kind::Hot) => self.hot -= 1,
            Some(Kind::Cold | Kind::ColdDone) => self.cold -= 1,
            Some(Kind::Test) => self.test -= 1,
            _ => {}
        }
        if self.ring.is_known(key) {
            self.unlink(key);
        }
    }

    fn len(&self) -> usize {
        self.hot + self.cold
    }

    fn contains(&self, key: PageKey) -> bool {
        matches!(
            self.ring.state(key),
            Some(Kind::Hot | Kind::Cold | Kind::ColdDone)
        )
    }

    fn into_pages(self: Box<Self>) -> Box<dyn super::PagePolicy> {
        Box::new(super::ByKey(self))
    }
}
