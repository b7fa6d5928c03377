//! The contract between the manager and the owners of reclaimable pages
//! (the seed patch's get/put/reclaim/block/write operations, in Rust terms).
//!
//! "get" is upgrading the `Weak<dyn PageOwner>` given to
//! [`EpcManager::mark_reclaimable`](crate::EpcManager::mark_reclaimable);
//! "put" is dropping that `Arc`. The pipeline holds the reference from
//! isolation until after the write, and frees the page only after dropping
//! it, so a page is never reused while its old owner can still touch it.

use crate::page::{EpcPage, OwnerId, PageKey};
use epc_hw::EpcPageId;

/// Proof, handed to [`PageOwner::write`], that the page's owner was
/// tracked in this batch: the pipeline called that owner's
/// [`PageOwner::track`] after all of its pages in the batch were blocked.
/// Only the pipeline can make one, and it carries what it proves: the owner
/// it was made for and the tracking epoch its ETRACK opened.
///
/// `track` does not report the hardware's epoch (the SGX model keeps it
/// inside the SECS), so the epoch is the pipeline's own sequence: the
/// manager numbers every `track` call its pipelines make, from 1, and the
/// proof carries that number. Two proofs with the same owner and epoch are
/// the same ETRACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    owner: OwnerId,
    epoch: u64,
}

impl Tracked {
    pub(crate) fn new(owner: OwnerId, epoch: u64) -> Self {
        Tracked { owner, epoch }
    }

    /// The owner whose `track` this proof records.
    pub fn owner(&self) -> OwnerId {
        self.owner
    }

    /// The tracking epoch: the manager-wide sequence number of that `track`
    /// call (from 1).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// What [`PageOwner::block`] did with the page.
#[derive(Debug)]
pub enum BlockOutcome {
    /// The owner prepared the backing, unmapped the page and ran EBLOCK. From
    /// here there is no way back: the pipeline will call
    /// [`PageOwner::write`].
    Blocked,
    /// The owner declined before blocking (backing could not be prepared,
    /// the page is in use by an operation that cannot wait). The page goes
    /// back on the reclaimable list; counted as declined.
    Declined,
    /// The owner is gone (its enclave was torn down or killed while the
    /// page was isolated) and hands the page back to be freed. It has made
    /// the page invalid (EREMOVE) itself. Counted as skipped.
    Abandoned(EpcPage),
}

/// What [`PageOwner::write`] did. Either way the owner hands the page back
/// and the manager frees it.
#[derive(Debug)]
pub enum WriteOutcome {
    /// EWB succeeded (after whatever retries the owner's ladder needed): the
    /// page's contents are in the backing store and the EPC page is invalid.
    Written(EpcPage),
    /// The write failed for good; the owner killed its enclave and made the
    /// page invalid itself. Counted as a write failure.
    Failed(EpcPage),
    /// The owner went away (its enclave was destroyed) after the page was
    /// blocked; it removed the page (EREMOVE) instead of writing it out, the
    /// contents being of no use to anyone. Counted as skipped and abandoned.
    Abandoned(EpcPage),
}

/// An owner of reclaimable EPC pages (for the enclave layer: an enclave).
///
/// The pipeline calls, for one batch and in this order: [`age`](Self::age)
/// while scanning, [`block`](Self::block) for each victim,
/// [`track`](Self::track) once per owner, [`write`](Self::write) for each
/// blocked page. Pages are named by the [`PageKey`] given when the page was
/// marked, and by the EPC page id the owner holds the handle of.
///
/// The owner keeps the [`EpcPage`] handle of each of its pages; it gives the
/// handle back from `write` (or from `block` as
/// [`BlockOutcome::Abandoned`]). Teardown that meets
/// [`ListError::Busy`](crate::ListError::Busy) from `unmark_reclaimable`
/// must therefore keep that page's handle where `block`/`write` will find it.
pub trait PageOwner: Send + Sync {
    /// Tests and clears the page's accessed bit; `true` means the page was
    /// used since the last test ("young").
    ///
    /// Called **with the manager's list lock held**, during the policy's
    /// scan: it must be quick, must not call into the manager, and may take
    /// only leaf locks (locks never held while calling the manager).
    fn age(&self, key: PageKey) -> bool;

    /// Prepares the backing, unmaps the page and runs EBLOCK, or declines
    /// before blocking. Called without manager locks.
    fn block(&self, key: PageKey, page: EpcPageId) -> BlockOutcome;

    /// Runs ETRACK for the owner's blocked pages. Called once per owner per
    /// batch, after all of that owner's pages in the batch are blocked.
    fn track(&self);

    /// Writes the blocked page out (EWB, with the owner's retry ladder:
    /// EWB, ETRACK + EWB, IPIs + EWB) and gives the handle back. On an
    /// unrecoverable failure the owner kills its enclave, makes the page
    /// invalid, and returns [`WriteOutcome::Failed`]. `tracked` is the proof
    /// of this owner's `track` in this batch (`tracked.owner()` is
    /// `key.owner`).
    fn write(&self, key: PageKey, page: EpcPageId, tracked: &Tracked) -> WriteOutcome;
}
