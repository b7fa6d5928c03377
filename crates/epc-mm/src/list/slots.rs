//! The list entry of every page (Linux keeps it in `struct sgx_epc_page`):
//! the enclave address of the page's key and its owner's index in the
//! list's [`Owners`](super::owners::Owners) table, 12 bytes per page in
//! [`PageChunks`] (allocated 4096 pages at a time on first use).
//!
//! One array serves every list of a manager: a page is on one list at a
//! time, and its cell is written and read only under the lock of the list
//! holding it, so relaxed atomics suffice (the locks order a page's move
//! from one list to another through the free lists).

use crate::page::PageChunks;
use crate::sync::{AtomicU32, Ordering};
use epc_hw::EpcPageId;
use std::fmt;

/// The superseded flag in the owner word (see [`Slot::superseded`]).
const SUPERSEDED: u32 = 1 << 31;

/// A page's list entry, as read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Slot {
    /// The enclave page address of the page's key.
    pub(super) addr: u64,
    /// The owner's index in the list's owner table (below 2^31).
    pub(super) owner: u32,
    /// The page was isolated and written out, and its owner has already
    /// brought the same key back on another page (a quick re-fault) before
    /// the batch finished: the policy has been told of the eviction and the
    /// key index names the new page, so the batch's finish must not touch
    /// either.
    pub(super) superseded: bool,
}

#[derive(Default)]
struct Cell {
    addr_lo: AtomicU32,
    addr_hi: AtomicU32,
    /// The owner index, with [`SUPERSEDED`].
    owner: AtomicU32,
}

/// The list entries of every page of one manager.
pub(super) struct ListSlots {
    cells: PageChunks<Cell>,
}

impl ListSlots {
    /// `total` pages, none allocated.
    pub(super) fn new(total: usize) -> Self {
        ListSlots {
            cells: PageChunks::new(total),
        }
    }

    /// The entry of `page`; a page never written reads as the default.
    #[inline]
    pub(super) fn get(&self, page: EpcPageId) -> Slot {
        let Some(c) = self.cells.get(page) else {
            return Slot::default();
        };
        let lo = c.addr_lo.load(Ordering::Relaxed);
        let hi = c.addr_hi.load(Ordering::Relaxed);
        let owner = c.owner.load(Ordering::Relaxed);
        Slot {
            addr: u64::from(hi) << 32 | u64::from(lo),
            owner: owner & !SUPERSEDED,
            superseded: owner & SUPERSEDED != 0,
        }
    }

    /// Sets the entry of `page` (not superseded).
    #[inline]
    pub(super) fn set(&self, page: EpcPageId, addr: u64, owner: u32) {
        debug_assert!(owner < SUPERSEDED, "owner index out of range");
        let c = self.cells.get_or_alloc(page);
        c.addr_lo.store(addr as u32, Ordering::Relaxed);
        c.addr_hi.store((addr >> 32) as u32, Ordering::Relaxed);
        c.owner.store(owner, Ordering::Relaxed);
    }

    /// Marks the entry of `page` superseded.
    #[inline]
    pub(super) fn supersede(&self, page: EpcPageId) {
        self.cells
            .get_or_alloc(page)
            .owner
            .fetch_or(SUPERSEDED, Ordering::Relaxed);
    }
}

impl fmt::Debug for ListSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListSlots")
            .field("chunks", &self.cells.len())
            .field("allocated", &self.cells.allocated())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_addresses_owners_and_the_flag() {
        let s = ListSlots::new(10_000);
        let p = EpcPageId(9_000);
        assert_eq!(s.get(p), Slot::default());
        s.set(p, 0x1234_5678_9abc_d000, 7);
        assert_eq!(
            s.get(p),
            Slot {
                addr: 0x1234_5678_9abc_d000,
                owner: 7,
                superseded: false
            }
        );
        s.supersede(p);
        assert!(s.get(p).superseded);
        assert_eq!(s.get(p).owner, 7);
        s.set(p, 1, 0);
        assert_eq!(
            s.get(p),
            Slot {
                addr: 1,
                owner: 0,
                superseded: false
            }
        );
        assert_eq!(s.cells.allocated(), 1);
    }
}
