//! SIEVE, live.
//!
//! Reference: Y. Zhang, J. Yang, Y. Yue, Y. Vigfusson and K. V. Rashmi,
//! "SIEVE is Simpler than LRU: an Efficient Turn-Key Eviction Algorithm for
//! Web Caches", NSDI 2024.
//!
//! One FIFO of pages, newest at the head, and a hand that walks from the
//! tail towards the head: a page whose visited (accessed) bit is set has it
//! cleared and stays *where it is*; the first page with a clear bit is
//! evicted and the hand stops at its neighbour towards the head; past the
//! head it wraps to the tail. Unlike CLOCK, survivors are not moved, so new
//! pages stay near the head and are examined first: quick demotion of
//! one-hit pages. It needs only the accessed bit, so it runs live.
//!
//! In the paper (and libCacheSim) a page enters with its visited bit clear;
//! the offline simulator's `sieve` follows that (see `epc_sim::offline`).
//! On hardware the faulting access sets the bit, so a live SIEVE starts
//! every page visited.

use super::key_list::KeyList;
use super::{ReclaimPolicy, ScanReport};
use crate::page::PageKey;

/// SIEVE. The list's front is SIEVE's tail (oldest); new pages join the
/// back (SIEVE's head).
#[derive(Debug, Default)]
pub struct Sieve {
    list: KeyList,
    /// Next page the hand examines; `None` means the tail (list front).
    hand: Option<PageKey>,
}

impl Sieve {
    /// An empty cache.
    pub fn new() -> Self {
        Sieve::default()
    }

    fn unlink(&mut self, key: PageKey) -> bool {
        if self.hand == Some(key) {
            self.hand = self.list.next_of(key);
        }
        self.list.remove(key)
    }
}

impl ReclaimPolicy for Sieve {
    fn name(&self) -> &'static str {
        "sieve"
    }

    fn inserted(&mut self, key: PageKey) {
        self.list.push_back(key);
    }

    fn select_victims(
        &mut self,
        max: usize,
        test_and_clear_young: &mut dyn FnMut(PageKey) -> bool,
        victims: &mut Vec<PageKey>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        // One full turn clears every bit, so len + max tests always suffice.
        let budget = self.list.len() + max;
        while victims.len() < max && (report.scanned as usize) < budget {
            let Some(key) = self.hand.or_else(|| self.list.front()) else {
                break;
            };
            report.scanned += 1;
            if test_and_clear_young(key) {
                report.second_chances += 1;
                self.hand = self.list.next_of(key);
            } else {
                self.unlink(key);
                victims.push(key);
            }
        }
        report
    }

    fn put_back(&mut self, key: PageKey) {
        self.list.push_back(key);
    }

    fn evicted(&mut self, key: PageKey) {
        self.unlink(key);
    }

    fn removed(&mut self, key: PageKey) {
        self.unlink(key);
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn contains(&self, key: PageKey) -> bool {
        self.list.contains(key)
    }
}
