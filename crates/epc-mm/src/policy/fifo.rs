//! First in, first out: the accessed bit is never consulted.

use super::page_links::PageLinks;
use super::paged::{reclaim_by_key_ids, KeyIds, PageKeys, PagePolicy};
use super::ScanReport;
use crate::page::PageKey;

/// FIFO: victims are taken from the head in insertion order; accessed bits
/// are ignored (never tested, so never cleared). Pages put back after a
/// declined reclaim join the tail, so one stubborn page cannot stall the
/// scan.
#[derive(Debug, Default)]
pub struct Fifo {
    core: FifoPages,
    ids: KeyIds,
}

impl Fifo {
    /// An empty list.
    pub fn new() -> Self {
        Fifo::default()
    }

    /// The resident keys, head (next victim) first.
    pub fn order(&self) -> Vec<PageKey> {
        self.core
            .list
            .iter(0)
            .map(|id| self.ids.key_of(id))
            .collect()
    }
}

reclaim_by_key_ids!(Fifo);

/// [`Fifo`] by page.
#[derive(Debug)]
struct FifoPages {
    list: PageLinks<()>,
}

impl Default for FifoPages {
    fn default() -> Self {
        FifoPages {
            list: PageLinks::new(1),
        }
    }
}

impl FifoPages {
    fn knows(&self, page: u32) -> bool {
        self.list.is_known(page)
    }
}

impl PagePolicy for FifoPages {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn inserted(&mut self, _key: PageKey, page: u32) {
        self.list.push_back(0, page, ());
    }

    fn select_victims(
        &mut self,
        max: usize,
        _keys: &dyn PageKeys,
        _test_and_clear_young: &mut dyn FnMut(u32) -> bool,
        victims: &mut Vec<u32>,
    ) -> ScanReport {
        let mut report = ScanReport::default();
        while (report.scanned as usize) < max {
            let Some(page) = self.list.pop_front(0) else {
                break;
            };
            report.scanned += 1;
            victims.push(page);
        }
        report
    }

    fn put_back(&mut self, _key: PageKey, page: u32) {
        self.list.push_back(0, page, ());
    }

    fn evicted(&mut self, _key: PageKey, page: u32) {
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
