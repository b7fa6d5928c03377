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

use super::page_links::PageLinks;
use super::paged::{reclaim_by_key_ids, KeyIds, PageKeys, PagePolicy};
use super::ScanReport;
use crate::page::PageKey;

/// SIEVE. The list's front is SIEVE's tail (oldest); new pages join the
/// back (SIEVE's head).
#[derive(Debug, Default)]
pub struct Sieve {
    core: SievePages,
    ids: KeyIds,
}

impl Sieve {
    /// An empty cache.
    pub fn new() -> Self {
        Sieve::default()
    }
}

reclaim_by_key_ids!(Sieve);

/// [`Sieve`] by page.
#[derive(Debug)]
struct SievePages {
    list: PageLinks<()>,
    /// Next page the hand examines; `None` means the tail (list front).
    hand: Option<u32>,
}

impl Default for SievePages {
    fn default() -> Self {
        SievePages {
            list: PageLinks::new(1),
            hand: None,
        }
    }
}

impl SievePages {
    fn knows(&self, page: u32) -> bool {
        self.list.is_known(page)
    }

    fn unlink(&mut self, page: u32) -> bool {
        if self.hand == Some(page) {
            self.hand = self.list.next_of(page);
        }
        self.list.remove(page).is_some()
    }
}

impl PagePolicy for SievePages {
    fn name(&self) -> &'static str {
        "sieve"
    }

    fn inserted(&mut self, _key: PageKey, page: u32) {
        self.list.push_back(0, page, ());
    }

    fn select_victims(
        &mut self,
        max: usize,
        _keys: &dyn PageKeys,
        test_and_clear_young: &mut dyn FnMut(u32) -> bool,
        victims: &mut Vec<u32>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        // One full turn clears every bit, so len + max tests always suffice.
        let budget = self.list.len() + max;
        while victims.len() < max && (report.scanned as usize) < budget {
            let Some(page) = self.hand.or_else(|| self.list.front(0)) else {
                break;
            };
            report.scanned += 1;
            if test_and_clear_young(page) {
                report.second_chances += 1;
                self.hand = self.list.next_of(page);
            } else {
                self.unlink(page);
                victims.push(page);
            }
        }
        report
    }

    fn put_back(&mut self, _key: PageKey, page: u32) {
        self.list.push_back(0, page, ());
    }

    fn evicted(&mut self, _key: PageKey, page: u32) {
        self.unlink(page);
    }

    fn removed(&mut self, _key: PageKey, page: u32) {
        self.unlink(page);
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn contains(&self, _key: PageKey, page: u32) -> bool {
        self.list.contains(page)
    }
}
