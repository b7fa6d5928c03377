//! Group charging (the accounting half of the misc controller's
//! `sgx_epc` resource): for every group, its limit (`max`), protection
//! (`low`), usage (`current`), `peak` and `events.max`, in atomics with no
//! lock; and for every page, the group it is charged to.
//!
//! A charge counts against the group and every ancestor below the root, so
//! the effective limit is the smallest on the path. The root's usage is not
//! counted here: every allocated page is charged to the root or a
//! descendant, so the root's `current` is simply the allocated pages
//! (`total - free`), and the root has no limit (as in cgroup v2, whose root
//! has no `misc.max`). Charging the root group therefore costs nothing.
//!
//! `current` here is the pages *charged*: those in use plus the reserves
//! of the group's subtree (`reserve.rs`); the statistics report the pages
//! in use. Reserves never make the charged count pass a limit.
//!
//! A charge increments each level's `current` and then reads its `max`; a
//! limit write stores `max` and then reads `current` (all `SeqCst`). So
//! either the charge sees the new limit (and backs out), or the write sees
//! the charge and records that the group may be over its new limit until
//! reclaim brings it down (`over`). `validate()` uses that: a group above
//! its limit without `over` means a charge passed a limit.

use crate::page::PageBytes;
use crate::sync::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use epc_hw::EpcPageId;

/// The most groups a manager can have, the root included. A page's group
/// is kept in one byte, so this cannot grow past 256.
pub const MAX_GROUPS: usize = 256;

const _: () = assert!(MAX_GROUPS <= u8::MAX as usize + 1);

/// `max` of a group without a limit.
pub(crate) const UNLIMITED: usize = usize::MAX;

const NO_PARENT: u32 = u32::MAX;

/// One group's counters, on their own cache lines.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Cell {
    parent: AtomicU32,
    pub(crate) max: AtomicUsize,
    pub(crate) low: AtomicUsize,
    pub(crate) current: AtomicUsize,
    pub(crate) peak: AtomicUsize,
    pub(crate) events_max: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) over: AtomicBool,
}

impl Cell {
    fn new() -> Self {
        Cell {
            parent: AtomicU32::new(NO_PARENT),
            max: AtomicUsize::new(UNLIMITED),
            low: AtomicUsize::new(0),
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            events_max: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            over: AtomicBool::new(false),
        }
    }

    /// The parent's index, if any.
    pub(crate) fn parent(&self) -> Option<usize> {
        match self.parent.load(Ordering::Acquire) {
            NO_PARENT => None,
            p => Some(p as usize),
        }
    }
}

/// Every group's counters and every page's group.
#[derive(Debug)]
pub(crate) struct Charges {
    cells: Box<[Cell]>,
    /// Each page's group, one byte per page, allocated as pages are used.
    page_group: PageBytes,
}

impl Charges {
    /// Room for [`MAX_GROUPS`] groups over `total` pages, all charged to
    /// the root (index 0).
    pub(crate) fn new(total: usize) -> Self {
        Charges {
            cells: (0..MAX_GROUPS).map(|_| Cell::new()).collect(),
            page_group: PageBytes::new(total),
        }
    }

    /// The counters of group `g`.
    #[inline]
    pub(crate) fn cell(&self, g: usize) -> &Cell {
        &self.cells[g]
    }

    /// Sets up group `g` under `parent` before anyone can charge it.
    pub(crate) fn init(&self, g: usize, parent: usize, max: usize, low: usize) {
        let c = &self.cells[g];
        c.max.store(max, Ordering::SeqCst);
        c.low.store(low, Ordering::Relaxed);
        c.parent.store(parent as u32, Ordering::Release);
    }

    /// The group `page` is charged to.
    #[inline]
    pub(crate) fn group_of(&self, page: EpcPageId) -> usize {
        usize::from(self.page_group.load(page))
    }

    /// Records that `page` is charged to `g` (by its new holder).
    #[inline]
    pub(crate) fn set_group(&self, page: EpcPageId, g: usize) {
        debug_assert!(g < MAX_GROUPS);
        self.page_group.store(page, g as u8);
    }

    /// Charges one page to `g` and its ancestors below the root. On a limit,
    /// backs out and returns the group whose limit it would pass. The
    /// caller raises the peaks (`Inner::raise_peaks`), once every level has
    /// taken the charge, so a charge that backs out never shows in a peak.
    #[inline]
    pub(crate) fn try_charge(&self, g: usize) -> Result<(), usize> {
        let mut at = g;
        while at != 0 {
            let c = &self.cells[at];
            let new = c.current.fetch_add(1, Ordering::SeqCst) + 1;
            if new > c.max.load(Ordering::SeqCst) {
                c.current.fetch_sub(1, Ordering::SeqCst);
                self.uncharge_between(g, at);
                return Err(at);
            }
            at = c.parent().unwrap_or(0);
        }
        Ok(())
    }

    /// Uncharges `n` pages from `g` and its ancestors below the root (a
    /// drained reserve).
    pub(crate) fn uncharge_n(&self, g: usize, n: usize) {
        self.uncharge_path(g, 0, n);
    }

    /// Uncharges one page from `g` and its ancestors below the root.
    #[inline]
    pub(crate) fn uncharge(&self, g: usize) {
        self.uncharge_between(g, 0);
    }

    /// Uncharges `from` and its ancestors up to, not including, `to`.
    fn uncharge_between(&self, from: usize, to: usize) {
        self.uncharge_path(from, to, 1);
    }

    /// Takes `n` off `from` and its ancestors up to, not including, `to`,
    /// **from the top down**. A charge goes up from the group (child, then
    /// parent), so taking it back down from the top keeps every level's
    /// counter at most the sum of what its children have admitted at every
    /// instant: a parent without a limit never reads above the sum of its
    /// children's limits, even transiently (bottom-up, a parent still
    /// counted a page its child had already let go and a new charge had
    /// taken: a peak above the sum of the limits, seen by a selftest).
    /// Recursive: the depth is at most [`MAX_GROUPS`], usually two or
    /// three.
    fn uncharge_path(&self, at: usize, to: usize, n: usize) {
        if at == to || at == 0 {
            return;
        }
        let c = &self.cells[at];
        self.uncharge_path(c.parent().unwrap_or(0), to, n);
        c.current.fetch_sub(n, Ordering::SeqCst);
    }

    /// Stores a new limit for `g`; `true` if the group is over it (the
    /// caller reclaims it down).
    pub(crate) fn set_max(&self, g: usize, max: usize) -> bool {
        let c = &self.cells[g];
        c.max.store(max, Ordering::SeqCst);
        let over = c.current.load(Ordering::SeqCst) > max;
        if over {
            c.over.store(true, Ordering::SeqCst);
        }
        over
    }

    /// The smallest limit on the path from `g` to the root, and the group
    /// that sets it (`UNLIMITED` and the root when none has one).
    pub(crate) fn effective_max(&self, g: usize) -> (usize, usize) {
        let (mut best, mut by) = (UNLIMITED, 0);
        let mut at = g;
        while at != 0 {
            let c = &self.cells[at];
            let max = c.max.load(Ordering::SeqCst);
            if max < best {
                (best, by) = (max, at);
            }
            at = c.parent().unwrap_or(0);
        }
        (best, by)
    }

    /// Whether `a` is `g` or one of its ancestors.
    pub(crate) fn is_ancestor(&self, a: usize, g: usize) -> bool {
        let mut at = g;
        loop {
            if at == a {
                return true;
            }
            match self.cells[at].parent() {
                Some(p) => at = p,
                None => return false,
            }
        }
    }
}
