//! What a manager's users and ksgxd share: the [`Shared`] pool, the groups
//! (each with its reclaimable list), and ksgxd's signal; and the reclaim
//! decisions made over them: which list a batch takes from under global
//! pressure or under a group's limit, and whether a group should be
//! reclaimed ahead of its limit. The public [`EpcManager`] (`manager.rs`)
//! holds an `Inner` behind an `Arc`; allocation, free and ksgxd work on
//! it.
//!
//! [`EpcManager`]: crate::EpcManager

use crate::charge::UNLIMITED;
use crate::group::Groups;
use crate::list::Reclaimable;
use crate::reclaim::{self, BatchReport};
use crate::shared::Shared;
use crate::signal::KsgxdSignal;
use crate::sync::Ordering;
use epc_hw::EpcPageId;

/// Below this limit no headroom is kept (Linux's `SGX_CG_LOW_LIMIT`, "so
/// at least 75% pages used without being reclaimed").
pub(crate) const CG_LOW_LIMIT: usize = 128;

/// Pages kept free under a limit above [`CG_LOW_LIMIT`] (Linux's
/// `SGX_CG_MIN_FREE_PAGE`, its `SGX_NR_LOW_PAGES`).
pub(crate) const CG_MIN_FREE: usize = 32;

/// See the module documentation.
pub(crate) struct Inner {
    pub(crate) shared: Shared,
    pub(crate) groups: Groups,
    pub(crate) ksgxd: KsgxdSignal,
}

impl Inner {
    /// The list of the group `page` is charged to (the page's holder asks).
    #[inline]
    pub(crate) fn list_of(&self, page: EpcPageId) -> &Reclaimable {
        let g = self.shared.charges.group_of(page);
        &self
            .groups
            .get(g)
            .unwrap_or_else(|| self.groups.root())
            .list
    }

    /// One batch from the list global fairness picks (empty if nothing is
    /// listed anywhere).
    pub(crate) fn reclaim_global(&self, max: usize) -> BatchReport {
        match self.groups.pick_global(&self.shared.charges) {
            Some(g) => self.reclaim_from(g, max),
            None => BatchReport::default(),
        }
    }

    /// One batch from the list `top`'s cursor picks in its subtree.
    pub(crate) fn reclaim_subtree(&self, top: usize, max: usize) -> BatchReport {
        match self.groups.pick_in_subtree(&self.shared.charges, top) {
            Some(g) => self.reclaim_from(g, max),
            None => BatchReport::default(),
        }
    }

    fn reclaim_from(&self, g: usize, max: usize) -> BatchReport {
        let node = self.groups.get(g).expect("picked groups exist");
        let progress = || self.ksgxd.progress();
        let report = reclaim::reclaim_pages(&self.shared, &node.list, max, &progress);
        let cell = self.shared.charges.cell(g);
        cell.evicted.fetch_add(report.evicted, Ordering::Relaxed);
        report
    }

    /// Pages listed and isolated over `top`'s subtree.
    pub(crate) fn subtree_reclaimable(&self, top: usize) -> (usize, usize) {
        if top == 0 {
            let t = &self.shared.totals;
            return (t.listed(), t.isolated());
        }
        self.groups
            .subtree(&self.shared.charges, top)
            .into_iter()
            .filter_map(|g| self.groups.get(g))
            .fold((0, 0), |(l, i), n| {
                (l + n.list.nr_listed(), i + n.list.nr_isolated())
            })
    }

    /// The usage at which reclaim of `g` starts: its limit less the
    /// headroom, which is kept only for limits above [`CG_LOW_LIMIT`].
    pub(crate) fn reclaim_target(&self, g: usize) -> usize {
        let max = self.shared.charges.cell(g).max.load(Ordering::SeqCst);
        if max != UNLIMITED && max > CG_LOW_LIMIT {
            max - CG_MIN_FREE
        } else {
            max
        }
    }

    /// Whether group `g` (not the root) should be reclaimed: pages in use
    /// (its reserves not counted) at or
    /// above its target, or above its limit, and something listed in its
    /// subtree (Linux's `sgx_cgroup_should_reclaim`).
    pub(crate) fn group_should_reclaim(&self, g: usize) -> bool {
        let cell = self.shared.charges.cell(g);
        let max = cell.max.load(Ordering::SeqCst);
        if g == 0 || max == UNLIMITED {
            return false;
        }
        self.usage(g) >= self.reclaim_target(g) && self.subtree_reclaimable(g).0 > 0
    }

    /// After a charge to `g` succeeded: queue background reclaim for the
    /// first group on the path to the root that is at its target.
    #[inline]
    pub(crate) fn queue_if_near_limit(&self, g: usize) {
        let charges = &self.shared.charges;
        let mut at = g;
        while at != 0 {
            let cell = charges.cell(at);
            let max = cell.max.load(Ordering::Relaxed);
            if max != UNLIMITED && cell.current.load(Ordering::Relaxed) >= self.reclaim_target(at) {
                if self.group_should_reclaim(at) {
                    self.ksgxd.queue_group(at);
                }
                return;
            }
            at = cell.parent().unwrap_or(0);
        }
    }

    /// Reclaims `g`'s subtree until it is below its target (and within its
    /// limit), nothing there is reclaimable, a batch frees nothing, or the
    /// manager stops. Returns the pages freed.
    pub(crate) fn reclaim_group_down(&self, g: usize, max: usize) -> u64 {
        let mut freed = 0;
        self.drain_subtree(g);
        while self.group_should_reclaim(g) && !self.ksgxd.is_stopping() {
            let report = self.reclaim_subtree(g, max);
            if report.freed() == 0 {
                break;
            }
            freed += report.freed();
        }
        // Clear "may be over its limit" first, then look: a limit write
        // racing with this either is seen here or sets the flag after.
        // Pages freed by the reclaim went to reserves: uncharge them.
        self.drain_subtree(g);
        let cell = self.shared.charges.cell(g);
        cell.over.store(false, Ordering::SeqCst);
        if cell.current.load(Ordering::SeqCst) > cell.max.load(Ordering::SeqCst) {
            cell.over.store(true, Ordering::SeqCst);
        }
        freed
    }
}
