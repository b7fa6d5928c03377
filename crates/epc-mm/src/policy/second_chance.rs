//! Linux's policy: FIFO with a second chance on the accessed bit (CLOCK).

use super::key_list::KeyList;
use super::{ReclaimPolicy, ScanReport};
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
    list: KeyList,
}

impl SecondChance {
    /// An empty list.
    pub fn new() -> Self {
        SecondChance::default()
    }

    /// The resident keys, head (next to scan) first.
    pub fn order(&self) -> Vec<PageKey> {
        self.list.iter().collect()
    }
}

impl ReclaimPolicy for SecondChance {
    fn name(&self) -> &'static str {
        "second-chance"
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
        let budget = self.list.len() + max;
        let mut taken = 0;
        while taken < max && (report.scanned as usize) < budget {
            let Some(key) = self.list.pop_front() else {
                break;
            };
            report.scanned += 1;
            if test_and_clear_young(key) {
                report.second_chances += 1;
                self.list.push_back(key);
            } else {
                victims.push(key);
                taken += 1;
            }
        }
        report
    }

    fn put_back(&mut self, key: PageKey) {
        self.list.push_back(key);
    }

    fn evicted(&mut self, key: PageKey) {
        // No history: an evicted key is simply gone (it left the list when
        // it was selected; removing again is harmless).
        self.list.remove(key);
    }

    fn removed(&mut self, key: PageKey) {
        self.list.remove(key);
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn contains(&self, key: PageKey) -> bool {
        self.list.contains(key)
    }
}
