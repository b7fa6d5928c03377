//! `validate()`: recomputes the manager's bookkeeping from scratch and
//! checks it against the incremental state (quickcheck-style, as in
//! quick_cache). Called after every step in tests.

use crate::freelist::NodeLists;
use crate::manager::EpcManager;
use crate::page::{PageKey, PageState};
use epc_hw::{EpcPageId, NodeId};
use thiserror::Error;

/// An inconsistency `validate` found.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ValidateError {
    /// A page on a free list is not in the free state.
    #[error("{page:?} is on a free list but its state is {state}")]
    FreeListedNotFree {
        /// The page.
        page: EpcPageId,
        /// Its state.
        state: &'static str,
    },
    /// A page is on a free list twice, or on two lists.
    #[error("{0:?} is on the free lists twice")]
    FreeListedTwice(EpcPageId),
    /// A page is on the free list of a node it does not belong to.
    #[error("{page:?} of node {home:?} is on the free list of node {list:?}")]
    WrongNode {
        /// The page.
        page: EpcPageId,
        /// The page's node.
        home: NodeId,
        /// The node whose list holds it.
        list: NodeId,
    },
    /// A published free count differs from its list's length.
    #[error("node {node:?}: free count {counted} but {listed} pages listed")]
    FreeCount {
        /// The node.
        node: NodeId,
        /// The published count.
        counted: usize,
        /// The list's length.
        listed: usize,
    },
    /// A page in the free state is on no free list (lost).
    #[error("{0:?} is free but on no free list")]
    Lost(EpcPageId),
    /// A tracked or isolated page has no owner slot, or an untracked one has.
    #[error("{page:?} in state {state} has wrong reclaimer tracking")]
    Tracking {
        /// The page.
        page: EpcPageId,
        /// Its state.
        state: &'static str,
    },
    /// The key index disagrees with the page slots.
    #[error("key {key:?} maps to {page:?}, whose slot disagrees")]
    KeyIndex {
        /// The key.
        key: PageKey,
        /// The page it maps to.
        page: EpcPageId,
    },
    /// A page on a poison list, or on a free list, is in the wrong place:
    /// a retired page must be poisoned, in the free state and on its own
    /// node's poison list only; no poisoned page may be on a free list.
    #[error("{page:?} is misplaced with respect to the poison lists: {why}")]
    Poison {
        /// The page.
        page: EpcPageId,
        /// What is wrong.
        why: &'static str,
    },
    /// A count kept incrementally differs from the recount.
    #[error("{what}: kept {kept}, recounted {recounted}")]
    Count {
        /// Which count.
        what: &'static str,
        /// The incremental value.
        kept: usize,
        /// The value recomputed.
        recounted: usize,
    },
}

fn name(state: PageState) -> &'static str {
    match state {
        PageState::Free => "free",
        PageState::InUse => "in use",
        PageState::Tracked => "tracked",
        PageState::Isolated => "isolated",
    }
}

fn count(what: &'static str, kept: usize, recounted: usize) -> Result<(), ValidateError> {
    if kept == recounted {
        Ok(())
    } else {
        Err(ValidateError::Count {
            what,
            kept,
            recounted,
        })
    }
}

impl EpcManager {
    /// Checks every invariant: each page in exactly one state; free pages on
    /// exactly one free list (their node's) and nowhere else, or, if a
    /// memory failure named them, on their node's poison list instead; free counts
    /// equal list lengths; tracked pages on the policy's list with an owner
    /// slot, isolated pages off it with a slot, other pages without one; the
    /// key index matching the slots. Takes the list lock and every node lock
    /// (in the lock order), so it sees a consistent state even while other
    /// threads run; run it at quiescence to also check the free count.
    pub fn validate(&self) -> Result<(), ValidateError> {
        let inner = &*self.inner;
        let total = inner.layout.total_pages() as usize;
        let list = inner.reclaimable.lock();
        let nodes = inner.free.lock_all();

        let mut on_free_list = vec![false; total];
        let published = inner.free.published_poison();
        for ((node, lists, counted), (poisoned, retired)) in nodes.iter().zip(published) {
            count_free(*node, lists.len(), *counted)?;
            check_poison(inner, *node, lists, poisoned, retired, &mut on_free_list)?;
            for &page in lists.iter() {
                let state = inner.state(page);
                if state != PageState::Free {
                    return Err(ValidateError::FreeListedNotFree {
                        page,
                        state: name(state),
                    });
                }
                if std::mem::replace(&mut on_free_list[page.index()], true) {
                    return Err(ValidateError::FreeListedTwice(page));
                }
                let home = inner.free.node_of(page);
                if home != *node {
                    return Err(ValidateError::WrongNode {
                        page,
                        home,
                        list: *node,
                    });
                }
            }
        }

        let (mut tracked, mut isolated, mut free, mut superseded) = (0, 0, 0, 0);
        for (i, listed) in on_free_list.iter().enumerate() {
            let page = EpcPageId(i as u32);
            let state = inner.state(page);
            let slot = list.slots[i].as_ref();
            let ok = match state {
                PageState::Free => {
                    free += 1;
                    if !listed {
                        return Err(ValidateError::Lost(page));
                    }
                    slot.is_none()
                }
                PageState::InUse => slot.is_none(),
                PageState::Tracked => {
                    tracked += 1;
                    slot.is_some_and(|s| list.policy.contains(s.key))
                }
                PageState::Isolated => {
                    isolated += 1;
                    // A superseded page's key is resident again on another
                    // page (see `Slot::superseded`).
                    slot.is_some_and(|s| {
                        superseded += usize::from(s.superseded);
                        s.superseded || !list.policy.contains(s.key)
                    })
                }
            };
            if !ok {
                return Err(ValidateError::Tracking {
                    page,
                    state: name(state),
                });
            }
        }
        for (&key, &page) in &list.keys {
            if list.slots[page.index()].as_ref().map(|s| s.key) != Some(key) {
                return Err(ValidateError::KeyIndex { key, page });
            }
        }
        count("policy resident pages", list.policy.len(), tracked)?;
        count("isolated pages", list.isolated, isolated)?;
        count(
            "key index",
            list.keys.len(),
            tracked + isolated - superseded,
        )?;
        count(
            "published reclaimable pages",
            inner.reclaimable.nr_listed(),
            tracked,
        )?;
        count(
            "published isolated pages",
            inner.reclaimable.nr_isolated(),
            isolated,
        )?;
        // Pages in the free state are on a free list or a poison list.
        let listed_free: usize = nodes
            .iter()
            .map(|(_, l, _)| l.len() + l.retired.len())
            .sum();
        count("free and retired pages", listed_free, free)?;
        Ok(())
    }
}

/// A node's poison bookkeeping: every retired page poisoned, free, of
/// this node and listed once (marked in `on_list`, which the free lists
/// share, so a page on both is caught); no poisoned page on the free list;
/// published counts equal to the lists.
fn check_poison(
    inner: &crate::manager::Inner,
    node: NodeId,
    lists: &NodeLists,
    poisoned: usize,
    retired: usize,
    on_list: &mut [bool],
) -> Result<(), ValidateError> {
    let bad = |page, why| Err(ValidateError::Poison { page, why });
    for &page in &lists.retired {
        if !lists.is_poisoned(page) {
            return bad(page, "retired but not poisoned");
        }
        if inner.state(page) != PageState::Free {
            return bad(page, "retired but allocated");
        }
        if inner.free.node_of(page) != node {
            return bad(page, "retired on another node's list");
        }
        if std::mem::replace(&mut on_list[page.index()], true) {
            return bad(page, "retired twice");
        }
    }
    if let Some(&page) = lists.free.iter().find(|&&p| lists.is_poisoned(p)) {
        return bad(page, "poisoned but on the free list");
    }
    count("poisoned pages", poisoned, lists.poisoned.len())?;
    count("retired pages", retired, lists.retired.len())?;
    Ok(())
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
