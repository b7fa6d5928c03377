//! The groups API of [`EpcManager`]: creating groups, writing their limits,
//! reading their statistics, and reclaiming a group down to its limit.
//! Allocation in a group is [`EpcManager::alloc_in`] (`alloc.rs`).

use crate::charge::UNLIMITED;
use crate::group::{GroupError, GroupId, GroupLimits, GroupStats};
use crate::manager::EpcManager;
use crate::page::EpcPage;
use crate::permit::ReclaimPermit;
use crate::policy::{PolicyKind, ReclaimPolicy};
use crate::sync::Ordering;

impl EpcManager {
    /// Creates the group at `path` (`/a`, `/a/b`; its parent must exist)
    /// with `limits` and a fresh `policy` for its own reclaimable list.
    pub fn create_group(
        &self,
        path: &str,
        limits: GroupLimits,
        policy: PolicyKind,
    ) -> Result<GroupId, GroupError> {
        self.create_group_with_policy(path, limits, policy.build())
    }

    /// As [`create_group`](Self::create_group), with a policy of the
    /// caller's.
    pub fn create_group_with_policy(
        &self,
        path: &str,
        limits: GroupLimits,
        policy: Box<dyn ReclaimPolicy>,
    ) -> Result<GroupId, GroupError> {
        let i = &*self.inner;
        let g = i.groups.create(&i.shared.charges, path, limits, policy)?;
        Ok(GroupId(g as u32))
    }

    /// The group at `path` (`/` is the root).
    pub fn group(&self, path: &str) -> Option<GroupId> {
        self.inner.groups.find(path).map(|g| GroupId(g as u32))
    }

    /// The group `page` is charged to.
    pub fn group_of(&self, page: &EpcPage) -> GroupId {
        GroupId(self.inner.shared.charges.group_of(page.id()) as u32)
    }

    fn check(&self, group: GroupId) -> Result<usize, GroupError> {
        let g = group.index();
        if g < self.inner.groups.len() {
            Ok(g)
        } else {
            Err(GroupError::Unknown(group))
        }
    }

    /// Writes `group`'s limit (`None`: unlimited). Charges from now on see
    /// it. If the group is above the new limit (or at its reclaim target),
    /// it is queued to ksgxd, which reclaims its subtree down to it; in
    /// deterministic mode, where there is no ksgxd, the group's next
    /// reclaiming allocations do, or call
    /// [`reclaim_group`](Self::reclaim_group).
    pub fn set_max(&self, group: GroupId, max: Option<usize>) -> Result<(), GroupError> {
        let g = self.check(group)?;
        if g == 0 {
            return Err(GroupError::RootLimits);
        }
        let i = &*self.inner;
        if i.shared.charges.set_max(g, max.unwrap_or(UNLIMITED)) {
            // Over the new limit: charged-but-unused pages go first.
            i.drain_subtree(g);
        }
        if !i.shared.deterministic && i.group_should_reclaim(g) {
            i.ksgxd.queue_group(g);
        }
        Ok(())
    }

    /// Writes `group`'s protection (see [`GroupLimits::low`]).
    pub fn set_low(&self, group: GroupId, low: usize) -> Result<(), GroupError> {
        let g = self.check(group)?;
        if g == 0 {
            return Err(GroupError::RootLimits);
        }
        let cell = self.inner.shared.charges.cell(g);
        cell.low.store(low, Ordering::Relaxed);
        Ok(())
    }

    /// Reclaims `group`'s subtree, on the calling thread, until its usage
    /// is below its reclaim target (its limit, less 32 pages of headroom
    /// above 128) or nothing more can be reclaimed there. Returns the pages
    /// freed. The permit proves no owner lock is held.
    pub fn reclaim_group(
        &self,
        group: GroupId,
        permit: &mut ReclaimPermit,
    ) -> Result<u64, GroupError> {
        let _ = permit;
        let g = self.check(group)?;
        let i = &*self.inner;
        let max = if i.shared.deterministic {
            1
        } else {
            i.shared.batch
        };
        Ok(i.reclaim_group_down(g, max))
    }

    /// A snapshot of `group`.
    pub fn group_stats(&self, group: GroupId) -> Result<GroupStats, GroupError> {
        let g = self.check(group)?;
        let i = &*self.inner;
        let allocated = self.total_pages() - i.shared.free.nr_free();
        Ok(i.groups
            .stats(&i.shared.charges, g, allocated, i.reserved_in(g)))
    }

    /// A snapshot of every group, the root first, in creation order.
    pub fn groups(&self) -> Vec<GroupStats> {
        let i = &*self.inner;
        let allocated = self.total_pages() - i.shared.free.nr_free();
        (0..i.groups.len())
            .map(|g| {
                i.groups
                    .stats(&i.shared.charges, g, allocated, i.reserved_in(g))
            })
            .collect()
    }
}
