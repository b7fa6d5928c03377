//! `validate()`: recomputes the manager's bookkeeping from scratch and
//! checks it against the incremental state (quickcheck-style, as in
//! quick_cache). Called after every step in tests.

use crate::freelist::NodeLists;
use crate::invariant::{count, state_name, ValidateError};
use crate::manager::EpcManager;
use crate::page::{PageState, PageStates};
use crate::shared::Shared;
use crate::sync::Ordering;
use epc_hw::{EpcPageId, NodeId};

impl EpcManager {
    /// Checks every invariant: each page in exactly one state; free pages on
    /// exactly one free list (their node's) and nowhere else, or, if a
    /// memory failure named them, on their node's poison list instead; free counts
    /// equal list lengths; tracked pages on the policy's list with an owner
    /// slot, isolated pages off it with a slot, other pages without one; the
    /// key index matching the slots; every listed page on the list of the
    /// group it is charged to; each group's usage equal to the pages charged
    /// to it and its descendants, and within its limit unless a limit write
    /// lowered the limit below it. Takes every list lock and every node lock
    /// (in the lock order), so the page checks see a consistent state even
    /// while other threads run; run it at quiescence to also check the free
    /// count and the groups' usage (charges are lock-free).
    pub fn validate(&self) -> Result<(), ValidateError> {
        let inner = &*self.inner;
        let s = &inner.shared;
        let total = s.layout.total_pages() as usize;
        let nr_groups = inner.groups.len();
        // Every group's list lock, in group order, then every node lock.
        let lists: Vec<_> = (0..nr_groups)
            .filter_map(|g| inner.groups.get(g))
            .map(|n| n.list.lock_for_audit())
            .collect();
        let (mut audited_tracked, mut audited_isolated) = (0, 0);
        for (g, list) in lists.iter().enumerate() {
            let audit = list.audit(&s.states, |p| s.charges.group_of(p) == g)?;
            audited_tracked += audit.tracked;
            audited_isolated += audit.isolated;
        }
        let nodes = s.free.lock_all();

        let mut on_free_list = vec![false; total];
        let published = s.free.published_poison();
        for ((node, pages, counted), (poisoned, retired)) in nodes.iter().zip(published) {
            count_free(*node, pages.len(), *counted)?;
            check_poison(s, *node, pages, poisoned, retired, &mut on_free_list)?;
            for page in pages.iter() {
                let state = s.states.get(page);
                if state != PageState::Free {
                    return Err(ValidateError::FreeListedNotFree {
                        page,
                        state: state_name(state),
                    });
                }
                if std::mem::replace(&mut on_free_list[page.index()], true) {
                    return Err(ValidateError::FreeListedTwice(page));
                }
                let home = s.free.node_of(page);
                if home != *node {
                    return Err(ValidateError::WrongNode {
                        page,
                        home,
                        list: *node,
                    });
                }
            }
        }

        let (mut tracked, mut isolated, mut free) = (0, 0, 0);
        let mut own = vec![0usize; nr_groups];
        for (i, listed) in on_free_list.iter().enumerate() {
            let page = EpcPageId(i as u32);
            let state = s.states.get(page);
            if state != PageState::Free {
                let g = s.charges.group_of(page);
                *own.get_mut(g).ok_or(ValidateError::NoSuchGroup(page))? += 1;
            }
            match state {
                PageState::Free => {
                    free += 1;
                    if !listed {
                        return Err(ValidateError::Lost(page));
                    }
                }
                PageState::InUse => {}
                PageState::Tracked => tracked += 1,
                PageState::Isolated => isolated += 1,
            }
        }
        // Every page with a slot is tracked or isolated (the audit), so
        // equal counts mean every tracked or isolated page has one.
        count("tracked pages with an owner slot", audited_tracked, tracked)?;
        count(
            "isolated pages with an owner slot",
            audited_isolated,
            isolated,
        )?;
        count(
            "reclaimable pages over all lists",
            s.totals.listed(),
            tracked,
        )?;
        count(
            "isolated pages over all lists",
            s.totals.isolated(),
            isolated,
        )?;
        // Pages in the free state are on a free list or a poison list.
        let listed_free: usize = nodes
            .iter()
            .map(|(_, l, _)| l.len() + l.retired.len())
            .sum();
        count("free and retired pages", listed_free, free)?;
        drop(nodes);
        drop(lists);
        self.validate_groups(&own)
    }

    /// Each group's usage against the pages charged to it and its
    /// descendants (`own[g]`: pages charged to `g` itself), and against its
    /// limit: a group may be above its limit only if a limit write put it
    /// there (see `charge.rs`).
    fn validate_groups(&self, own: &[usize]) -> Result<(), ValidateError> {
        let s = &self.inner.shared;
        let groups = &self.inner.groups;
        for g in 1..own.len() {
            // Charged: the pages in use and the reserves (`reserve.rs`).
            let recounted: usize = (0..own.len())
                .filter(|&d| s.charges.is_ancestor(g, d))
                .map(|d| own[d] + s.free.reserved(d))
                .sum();
            let cell = s.charges.cell(g);
            let path = || groups.get(g).map_or_else(String::new, |n| n.path.clone());
            let kept = cell.current.load(Ordering::SeqCst);
            if kept != recounted {
                return Err(ValidateError::GroupUsage {
                    path: path(),
                    kept,
                    recounted,
                });
            }
            let max = cell.max.load(Ordering::SeqCst);
            if kept > max && !cell.over.load(Ordering::SeqCst) {
                return Err(ValidateError::OverLimit {
                    path: path(),
                    current: kept,
                    max,
                });
            }
        }
        Ok(())
    }
}

fn count_free(node: NodeId, listed: usize, counted: usize) -> Result<(), ValidateError> {
    if listed == counted {
        Ok(())
    } else {
        Err(ValidateError::FreeCount {
            node,
            counted,
            listed,
        })
    }
}

/// A node's poison bookkeeping: every retired page poisoned, free, of
/// this node and listed once (marked in `on_list`, which the free lists
/// share, so a page on both is caught); no poisoned page on the free list;
/// published counts equal to the lists.
fn check_poison(
    s: &Shared,
    node: NodeId,
    lists: &NodeLists,
    poisoned: usize,
    retired: usize,
    on_list: &mut [bool],
) -> Result<(), ValidateError> {
    let bad = |page, why| Err(ValidateError::Poison { page, why });
    let states: &PageStates = &s.states;
    for &page in &lists.retired {
        if !lists.is_poisoned(page) {
            return bad(page, "retired but not poisoned");
        }
        if states.get(page) != PageState::Free {
            return bad(page, "retired but allocated");
        }
        if s.free.node_of(page) != node {
            return bad(page, "retired on another node's list");
        }
        if std::mem::replace(&mut on_list[page.index()], true) {
            return bad(page, "retired twice");
        }
    }
    if let Some(page) = lists.iter().find(|&p| lists.is_poisoned(p)) {
        return bad(page, "poisoned but on the free list");
    }
    count("poisoned pages", poisoned, lists.poisoned.len())?;
    count("retired pages", retired, lists.retired.len())?;
    Ok(())
}
