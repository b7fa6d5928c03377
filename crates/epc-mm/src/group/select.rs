//! Which group's list the next reclaim batch takes from.
//!
//! * **Within a subtree** (a charge hit the limit of the subtree's top, or
//!   its limit was lowered): the top's fair cursor walks the subtree, one
//!   step per batch, so no group is always first (Linux v16's `next_cg`,
//!   which Kai Huang asked for so that a busy group cannot shield its
//!   descendants).
//! * **Globally** (ksgxd, direct reclaim, deterministic reclaim): every
//!   group, either round robin (the root's cursor) or in proportion to
//!   what each has on its list (smooth weighted round robin), as
//!   [`GlobalFairness`] says.
//!
//! Either way a group at or below its `low` is passed over while any
//! unprotected candidate has pages listed.

use super::{Groups, Node};
use crate::charge::Charges;
use crate::sync::Ordering;

/// How global reclaim spreads its batches over the groups.
///
/// Measured (`tests/cgroups_measure.rs`, `docs/epc-mm.md`): round robin
/// takes as many pages from a small hot group as from a big thrashing one,
/// so every group ends up faulting at the thrasher's rate (2.3 times the
/// faults of one shared list); proportional pressure matches the one list
/// within 1 %. Proportional is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GlobalFairness {
    /// One batch from each group with pages listed, in turn.
    RoundRobin,
    /// Batches in proportion to each group's listed pages (smooth weighted
    /// round robin: a group with twice the pages gives twice the batches).
    #[default]
    Proportional,
}

impl Groups {
    /// Whether `g` is protected: a `low` and usage at or below it.
    fn protected(&self, charges: &Charges, g: usize) -> bool {
        let c = charges.cell(g);
        let low = c.low.load(Ordering::Relaxed);
        g != 0 && low > 0 && c.current.load(Ordering::Relaxed) <= low
    }

    /// The candidates among `members`: those with pages listed, and of
    /// those the unprotected ones if any.
    fn candidates(&self, charges: &Charges, members: &[usize]) -> Vec<usize> {
        let listed: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&g| self.get(g).is_some_and(|n| n.list.nr_listed() > 0))
            .collect();
        let open: Vec<usize> = listed
            .iter()
            .copied()
            .filter(|&g| !self.protected(charges, g))
            .collect();
        if open.is_empty() {
            listed
        } else {
            open
        }
    }

    /// The next group of `top`'s subtree to reclaim from, by `top`'s
    /// cursor; `None` when nothing in the subtree is listed.
    pub(crate) fn pick_in_subtree(&self, charges: &Charges, top: usize) -> Option<usize> {
        let members = self.subtree(charges, top);
        let pool = self.candidates(charges, &members);
        if pool.is_empty() {
            return None;
        }
        let node: &Node = self.get(top)?;
        // The cursor names the member to try first; it moves just past the
        // one picked, so every candidate gets its turn whatever the gaps.
        let start = node.cursor.load(Ordering::Relaxed);
        let n = members.len();
        let at = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| pool.contains(&members[i]))?;
        node.cursor.store((at + 1) % n, Ordering::Relaxed);
        Some(members[at])
    }

    /// The next group to reclaim from under global pressure.
    pub(crate) fn pick_global(&self, charges: &Charges) -> Option<usize> {
        if self.len() == 1 {
            // Only the root: no choice to make.
            return (self.root().list.nr_listed() > 0).then_some(0);
        }
        match self.fairness {
            GlobalFairness::RoundRobin => self.pick_in_subtree(charges, 0),
            GlobalFairness::Proportional => {
                let members: Vec<usize> = (0..self.len()).collect();
                let pool = self.candidates(charges, &members);
                let weights: Vec<i64> = pool
                    .iter()
                    .map(|&g| self.get(g).map_or(0, |n| n.list.nr_listed() as i64))
                    .collect();
                let sum: i64 = weights.iter().sum();
                let mut credits = self.credits.lock();
                credits.resize(self.len(), 0);
                let mut best: Option<usize> = None;
                for (&g, &w) in pool.iter().zip(&weights) {
                    credits[g] += w;
                    if best.is_none_or(|b| credits[g] > credits[b]) {
                        best = Some(g);
                    }
                }
                if let Some(b) = best {
                    credits[b] -= sum;
                }
                best
            }
        }
    }
}
