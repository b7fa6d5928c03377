//! First in, first out: the accessed bit is never consulted.

use super::key_list::KeyList;
use super::{ReclaimPolicy, ScanReport};
use crate::page::PageKey;

/// FIFO: victims are taken from the head in insertion order; accessed bits
/// are ignored (never tested, so never cleared). Pages put back after a
/// declined reclaim join the tail, so one stubborn page cannot stall the
/// scan.
#[derive(Debug, Default)]
pub struct Fifo {
    list: KeyList,
}

impl Fifo {
    /// An empty list.
    pub fn new() -> Self {
        Fifo::default()
    }

    /// The resident keys, head (next victim) first.
    pub fn order(&self) -> Vec<PageKey> {
        self.list.iter().collect()
    }
}

impl ReclaimPolicy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn inserted(&mut self, key: PageKey) {
        self.list.push_back(key);
    }

    fn select_victims(
        &mut self,
        max: usize,
        _test_and_clear_young: &mut dyn FnMut(PageKey) -> bool,
        victims: &mut Vec<PageKey>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        while (report.scanned as usize) < max {
            let Some(key) = self.list.pop_front() else {
                break;
            };
            report.scanned += 1;
            victims.push(key);
        }
        report
    }

    fn put_back(&mut self, key: PageKey) {
        self.list.push_back(key);
    }

    fn evicted(&mut self, key: PageKey) {
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
