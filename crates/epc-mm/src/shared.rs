//! The state every reclaim path shares, below the lists' owners: the
//! configuration numbers, the page states, the free lists, the group
//! charges, the counters, the totals over all reclaimable lists and the
//! pipeline's tracking sequence. The reclaim pipeline needs this and a list; nothing here
//! knows about ksgxd, groups or the public manager.

use crate::charge::Charges;
use crate::counters::CounterCells;
use crate::freelist::FreeLists;
use crate::list::ListTotals;
use crate::page::PageStates;
use crate::reserve::RESERVE_KEEP;
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::watermark::{WatermarkControl, Watermarks};
use epc_hw::{EpcLayout, EpcPageId};

/// See the module documentation.
pub(crate) struct Shared {
    pub(crate) layout: EpcLayout,
    /// ksgxd's watermarks (unused in deterministic mode).
    pub(crate) marks: WatermarkControl,
    pub(crate) batch: usize,
    pub(crate) deterministic: bool,
    pub(crate) states: PageStates,
    pub(crate) free: FreeLists,
    pub(crate) charges: Charges,
    pub(crate) counters: CounterCells,
    /// Listed and isolated pages over every list.
    pub(crate) totals: Arc<ListTotals>,
    /// The last tracking epoch handed out (see `Tracked`).
    tracks: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        layout: EpcLayout,
        marks: Watermarks,
        low_watermark: usize,
        high_watermark: usize,
        batch: usize,
        deterministic: bool,
    ) -> Self {
        let total = layout.total_pages() as usize;
        Shared {
            states: PageStates::new(layout.total_pages() as usize),
            free: FreeLists::new(&layout),
            charges: Charges::new(layout.total_pages() as usize),
            layout,
            marks: WatermarkControl::new(marks, low_watermark, high_watermark, batch, total),
            batch,
            deterministic,
            counters: CounterCells::new(),
            totals: Arc::new(ListTotals::new(total)),
            tracks: AtomicU64::new(0),
        }
    }

    /// Returns a page its holder is done with to the free lists; its
    /// charge goes to its group's reserve on the page's node if there is
    /// room, or is uncharged (see `reserve.rs`).
    #[inline]
    pub(crate) fn release(&self, page: EpcPageId) {
        let group = self.charges.group_of(page);
        if group == 0 {
            self.free.give(page, &self.states);
        } else if !self
            .free
            .give_reserving(page, group, RESERVE_KEEP, &self.states)
        {
            self.charges.uncharge(group);
        }
    }

    /// The next tracking epoch.
    pub(crate) fn next_epoch(&self) -> u64 {
        self.tracks.fetch_add(1, Ordering::Relaxed) + 1
    }
}
