//! Allocation: the group charge (with reclaim on a limit), the free-list
//! fast path, the ksgxd wake-up below the low watermark, and the
//! direct-reclaim retry loop (Linux's `sgx_alloc_epc_page` with the
//! cgroup series' `sgx_cgroup_try_charge`).

use crate::counters::bump;
use crate::group::GroupId;
use crate::inner::Inner;
use crate::manager::EpcManager;
use crate::page::EpcPage;
use crate::permit::AllocMode;
use crate::sync::{thread, Ordering};
use epc_hw::{EpcPageId, NodeId};
use std::time::Duration;
use thiserror::Error;

/// How many direct reclaims in a row may free nothing (every owner declined,
/// or other batches hold every reclaimable page) before a reclaiming
/// allocation gives up with `Busy` instead of spinning.
const FRUITLESS_RECLAIMS: u32 = 64;

/// The longest an allocation waits for ksgxd's next batch when it is
/// throttled (see [`Inner::throttled`]).
const THROTTLE_WAIT: Duration = Duration::from_micros(250);

/// Why an allocation failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AllocError {
    /// Nothing is free and nothing is reclaimable; or the group's limit (or
    /// an ancestor's) is reached and nothing in that group's subtree is
    /// reclaimable. No owner is killed for it.
    #[error("no EPC page free and none reclaimable")]
    NoMemory,
    /// Nothing is free (or the group is at its limit) and the caller may
    /// not reclaim (or reclaim made no progress); ksgxd was woken. Release
    /// locks and retry.
    #[error("no EPC page free right now; retry")]
    Busy,
    /// The manager is shutting down.
    #[error("the EPC manager is shutting down")]
    Interrupted,
    /// The group does not exist in this manager.
    #[error("group {0:?} does not exist in this manager")]
    UnknownGroup(GroupId),
}

impl EpcManager {
    /// Allocates a page charged to the root group, from `node` first, then
    /// the other nodes in turn.
    ///
    /// If nothing is free: with [`AllocMode::NoReclaim`], wakes ksgxd and
    /// returns [`AllocError::Busy`]; with [`AllocMode::Reclaim`], reclaims
    /// directly (one batch, or exactly one victim in deterministic mode) and
    /// retries. [`AllocError::NoMemory`] when nothing is reclaimable either.
    /// An allocation that leaves fewer free pages than the low watermark
    /// wakes ksgxd. In the assisted mode an allocation that may reclaim
    /// and finds fewer free than half the low watermark first runs one
    /// reclaim batch itself (`assist.rs`).
    #[inline]
    pub fn alloc(&self, node: NodeId, mode: AllocMode<'_>) -> Result<EpcPage, AllocError> {
        let inner = &*self.inner;
        let s = &inner.shared;
        let taken = if inner.throttled(&mode) {
            None
        } else {
            if inner.should_assist(&mode) {
                inner.assist();
            }
            s.free.take(node, &s.states)
        };
        let page = match taken {
            Some(page) => {
                inner.after_take();
                page
            }
            None => inner.alloc_slow(node, mode)?,
        };
        s.charges.set_group(page, 0);
        Ok(EpcPage::new(page))
    }

    /// Allocates a page charged to `group` (and its ancestors).
    ///
    /// A page still charged to the group from an earlier free (its reserve
    /// on the node, see `reserve.rs`) is taken first, with no charge.
    /// Otherwise the charge comes first. If it would pass the group's limit or an
    /// ancestor's (the smallest on the path is the one that counts), the
    /// allocation reclaims from the subtree of the group whose limit it
    /// hit, walking it with that group's fair cursor: directly with
    /// [`AllocMode::Reclaim`] (one batch, one victim in deterministic mode,
    /// then retry); with [`AllocMode::NoReclaim`] it queues that group to
    /// ksgxd and returns [`AllocError::Busy`]. When that subtree has
    /// nothing reclaimable, [`AllocError::NoMemory`]. Each refused charge
    /// counts one `events_max` on that group (after that subtree's reserves
    /// were drained and the charge retried). A successful charge that
    /// leaves a group at its reclaim target (its limit less 32 pages of
    /// headroom when the limit is above 128) queues it to ksgxd.
    ///
    /// Then the page is taken as [`alloc`](Self::alloc) takes it (with
    /// global reclaim if nothing is free); if that fails, the charge is
    /// undone. The root group is charged for nothing: `alloc_in(ROOT, ..)`
    /// is `alloc`.
    pub fn alloc_in(
        &self,
        group: GroupId,
        node: NodeId,
        mode: AllocMode<'_>,
    ) -> Result<EpcPage, AllocError> {
        let g = group.index();
        if g == 0 {
            return self.alloc(node, mode);
        }
        let inner = &*self.inner;
        if g >= inner.groups.len() {
            return Err(AllocError::UnknownGroup(group));
        }
        let s = &inner.shared;
        // A page already charged, from the group's reserve on this node.
        if let Some(page) = s.free.take_reserved(node, g, &s.states) {
            inner.after_take();
            s.charges.set_group(page, g);
            return Ok(EpcPage::new(page));
        }
        inner.charge(g, matches!(mode, AllocMode::Reclaim(_)))?;
        let taken = if inner.throttled(&mode) {
            None
        } else {
            if inner.should_assist(&mode) {
                inner.assist();
            }
            s.free.take(node, &s.states)
        };
        let page = match taken {
            Some(page) => {
                inner.after_take();
                page
            }
            None => match inner.alloc_slow(node, mode) {
                Ok(page) => page,
                Err(e) => {
                    s.charges.uncharge(g);
                    return Err(e);
                }
            },
        };
        s.charges.set_group(page, g);
        Ok(EpcPage::new(page))
    }
}

impl Inner {
    /// After a page left the free lists: the root's peak, and ksgxd below
    /// the low watermark.
    #[inline]
    fn after_take(&self) {
        let s = &self.shared;
        let free = s.free.nr_free();
        let used = s.layout.total_pages() as usize - free;
        let root = s.charges.cell(0);
        if used > root.peak.load(Ordering::Relaxed) {
            root.peak.fetch_max(used, Ordering::Relaxed);
        }
        if !s.deterministic && free < s.marks.low() && s.totals.listed() > 0 {
            self.ksgxd.wake();
        }
    }

    /// Whether an allocation in `mode` should wait for ksgxd before it
    /// takes a page: it may reclaim (so it holds no owner lock), fewer free
    /// pages than the reserve kept for allocations that cannot reclaim are
    /// left, and ksgxd is reclaiming (adaptive mode, `watermark.rs`).
    #[inline]
    fn throttled(&self, mode: &AllocMode<'_>) -> bool {
        let s = &self.shared;
        matches!(mode, AllocMode::Reclaim(_))
            && s.free.nr_free() < s.marks.throttle_below()
            && self.ksgxd.is_active()
    }

    /// Charges one page to `g`, reclaiming from the subtree whose limit
    /// the charge hits (see [`EpcManager::alloc_in`]).
    fn charge(&self, g: usize, may_reclaim: bool) -> Result<(), AllocError> {
        let s = &self.shared;
        let mut fruitless = 0;
        let mut counted = false;
        loop {
            let at = match s.charges.try_charge(g) {
                Ok(()) => {
                    self.raise_peaks(g);
                    if !s.deterministic {
                        self.queue_if_near_limit(g);
                    }
                    return Ok(());
                }
                Err(at) => at,
            };
            // Pages charged but unused (reserves, where the pages a reclaim
            // below freed went too) in the subtree whose limit the charge
            // met go back first; then retry.
            if self.drain_subtree(at) > 0 {
                continue;
            }
            if !counted {
                s.charges
                    .cell(at)
                    .events_max
                    .fetch_add(1, Ordering::Relaxed);
                counted = true;
            }
            if self.ksgxd.is_stopping() {
                bump(&s.counters.interrupted, 1);
                return Err(AllocError::Interrupted);
            }
            let (listed, isolated) = self.subtree_reclaimable(at);
            if listed == 0 && isolated == 0 {
                bump(&s.counters.no_memory, 1);
                return Err(AllocError::NoMemory);
            }
            if !may_reclaim {
                if !s.deterministic {
                    self.ksgxd.queue_group(at);
                }
                bump(&s.counters.busy, 1);
                return Err(AllocError::Busy);
            }
            bump(&s.counters.direct_reclaims, 1);
            let max = if s.deterministic { 1 } else { s.batch };
            if self.reclaim_subtree(at, max).freed() == 0 {
                fruitless += 1;
                if fruitless >= FRUITLESS_RECLAIMS {
                    bump(&s.counters.busy, 1);
                    return Err(AllocError::Busy);
                }
                thread::yield_now();
            } else {
                fruitless = 0;
            }
        }
    }

    #[cold]
    fn alloc_slow(&self, node: NodeId, mode: AllocMode<'_>) -> Result<EpcPageId, AllocError> {
        let s = &self.shared;
        let mut fruitless = 0;
        let mut waited = false;
        loop {
            if self.ksgxd.is_stopping() {
                bump(&s.counters.interrupted, 1);
                return Err(AllocError::Interrupted);
            }
            if !waited && self.throttled(&mode) {
                // Once per allocation: then take what is free, or reclaim.
                waited = true;
                bump(&s.counters.throttled, 1);
                self.ksgxd.wait_for_batch(THROTTLE_WAIT);
                continue;
            }
            if let Some(page) = s.free.take(node, &s.states) {
                self.after_take();
                return Ok(page);
            }
            if s.totals.listed() == 0 && s.totals.isolated() == 0 {
                bump(&s.counters.no_memory, 1);
                return Err(AllocError::NoMemory);
            }
            let AllocMode::Reclaim(_) = mode else {
                if !s.deterministic {
                    self.ksgxd.wake();
                }
                bump(&s.counters.busy, 1);
                return Err(AllocError::Busy);
            };
            bump(&s.counters.direct_reclaims, 1);
            if !s.deterministic {
                // ksgxd fell behind: start it earlier from now on.
                s.marks.on_direct_reclaim(s.free.allocations());
            }
            let max = if s.deterministic { 1 } else { s.batch };
            let report = self.reclaim_global(max);
            if report.freed() == 0 {
                fruitless += 1;
                if fruitless >= FRUITLESS_RECLAIMS {
                    bump(&s.counters.busy, 1);
                    return Err(AllocError::Busy);
                }
                thread::yield_now();
            } else {
                fruitless = 0;
            }
        }
    }
}
