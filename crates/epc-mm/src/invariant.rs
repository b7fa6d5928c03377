//! The invariants `validate()` checks, as an error type, and the small
//! helpers the list's audit and the manager's validation share.

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
    /// A page sits on the list of a group it is not charged to.
    #[error("{0:?} is on the reclaimable list of a group it is not charged to")]
    WrongList(EpcPageId),
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

pub(crate) fn state_name(state: PageState) -> &'static str {
    match state {
        PageState::Free => "free",
        PageState::InUse => "in use",
        PageState::Tracked => "tracked",
        PageState::Isolated => "isolated",
    }
}

pub(crate) fn count(
    what: &'static str,
    kept: usize,
    recounted: usize,
) -> Result<(), ValidateError> {
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
