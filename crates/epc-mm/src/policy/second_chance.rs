//! Linux's policy: FIFO with a second chance on the accessed bit (CLOCK).

use super::page_links::PageLinks;
use super::paged::{reclaim_by_key_ids, KeyIds, PageKeys, PagePolicy};
use super::ScanReport;
use crate::page::PageKey;

/// Second chance (CLOCK), Linux's default.
///
/// A victim scan starts at the head: a page whose accessed bit is set has
/// the bit cleared and moves to the tail; the first page with a clear bit is
/// taken. New pages, and pages put back after a declined reclaim, join the
/// tail. Asked for one victim at a time this is textbook CLOCK; asked for a
/// batch it takes the first `max` old pages it meets.
///
/// A scan tests at most `len + max` pages: after one full turn every bit it
/// saw is clear, so textbook CLOCK always finds its victim within the bound,
/// while pages that keep being touched concurrently cannot make it loop.
#[derive(Debug, Default)]
pub struct SecondChance {
    core: SecondChancePages,
    ids: KeyIds,
}

impl SecondChance {
    /// An empty list.
    pub fn new() -> Self {
        SecondChance::default()
    }

    /// The resident keys, head (next to scan) first.
    pub fn order(&self) -> Vec<PageKey> {
        self.core
            .list
            .iter(0)
            .map(|id| self.ids.key_of(id))
            .collect()
    }
}

reclaim_by_key_ids!(SecondChance);

/// [`SecondChance`] by page.
#[derive(Debug)]
struct SecondChancePages {
    list: PageLinks<()>,
}

impl Default for SecondChancePages {
    fn default() -> Self {
        SecondChancePages {
            list: PageLinks::new(1),
        }
    }
}

impl SecondChancePages {
    fn knows(&self, page: u32) -> bool {
        self.list.is_known(page)
    }
}

impl PagePolicy for SecondChancePages {
    fn name(&self) -> &'static str {
        "second-chance"
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
        let budget = self.list.len() + max;
        let mut taken = 0;
        while taken < max && (report.scanned as usize) < budget {
            let Some(page) = self.list.pop_front(0) else {
                break;
            };
            report.scanned += 1;
            if test_and_clear_young(page) {
                report.second_chances += 1;
                self.list.push_back(0, page, ());
            } else {
                victims.push(page);
                taken += 1;
            }
        }
        report
    }

    fn put_back(&mut self, _key: PageKey, page: u32) {
        self.list.push_back(0, page, ());
    }

    fn evicted(&mut self, _key: PageKey, page: u32) {
        // No history: an evicted key is simply gone (it left the list when
        // it was selected; removing again is harmless).
        self.list.remove(page);
    }

    fn removed(&mut self, _key: PageKey, page: u32) {
        self.list.remove(page);
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn contains(&self, _key: PageKey, page: u32) -> bool {
        self.list.contains(page)
    }
}
