//! Machine faults, as the OS side sees them: memory failure (a poisoned
//! EPC page) and the loss of the EPC (a power cycle).
//!
//! * **Memory failure.** [`memory_failure`] does the platform's part (the
//!   page is poisoned in the machine) and the OS's (the manager retires the
//!   page or takes it off the reclaimable list). The enclave that owns the
//!   page goes on until something reads the page: a thread's access (a
//!   machine check on its logical processor), or the reclaimer's EWB, or an
//!   ELDU that reads a poisoned VA page or SECS. Then that enclave, and
//!   only it, is killed with [`KillReason::MemoryFailure`]; its pages are
//!   freed, the poisoned one to the poison list.
//! * **EPC lost.** After [`Machine::power_cycle`] every enclave of the old
//!   power cycle is gone. An enclave notices on its next fault (its threads
//!   are thrown out and fault on their TCS) or when the OS calls
//!   [`Enclave::notice_epc_loss`] (what [`epc_lost`] does for a set of
//!   enclaves): it is killed with [`KillReason::EpcLost`], and teardown
//!   releases its pages (EREMOVE of a page that is no longer valid simply
//!   succeeds) and its backing store. Sealed copies are dropped: they could
//!   never load again under the new paging key.

use crate::enclave::Enclave;
use crate::error::KillReason;
use crate::shards::PageShards;
use crate::state::Residency;
use epc_hw::{EpcPageId, LeafError, LinearAddress, Machine, PAGE_SIZE};
use epc_mm::{EpcManager, MemoryFailure, PoisonError};
use std::sync::Arc;

/// A memory failure in `page`: poisons it in the machine (the platform
/// reports the error) and hands it to the manager's
/// [`memory_failure`](EpcManager::memory_failure) (Linux's
/// `arch_memory_failure`). The owning enclave dies when it reads the page.
pub fn memory_failure(
    machine: &Machine,
    mm: &EpcManager,
    page: EpcPageId,
) -> Result<MemoryFailure, PoisonError> {
    if machine.poison_page(page).is_none() {
        return Err(PoisonError::NotEpc(page));
    }
    mm.memory_failure(page)
}

/// The OS notices that the EPC was lost: every enclave of an earlier power
/// cycle among `enclaves` is killed with [`KillReason::EpcLost`] and its
/// pages and backing store are released. Returns how many were killed.
pub fn epc_lost<'a>(enclaves: impl IntoIterator<Item = &'a Arc<Enclave>>) -> usize {
    enclaves.into_iter().filter(|e| e.notice_epc_loss()).count()
}

impl Enclave {
    /// Whether the EPC was lost since this enclave was created: the
    /// machine's (a power cycle) or, for a guest enclave, its VM's (stop,
    /// reboot, failure); see [`Platform::epoch`](crate::Platform::epoch).
    #[inline]
    pub fn epc_lost(&self) -> bool {
        self.machine.epoch() != self.boot
    }

    /// If the EPC was lost since the enclave was created, kills it with
    /// [`KillReason::EpcLost`] (unless already dead) and releases its pages
    /// and backing store. Returns whether the EPC was lost.
    pub fn notice_epc_loss(&self) -> bool {
        if !self.epc_lost() {
            return false;
        }
        self.kill(KillReason::EpcLost);
        true
    }

    /// The enclave's resident REG/TCS pages: `(address, EPC page)`, in
    /// address order. The pages the reclaimer or a loader holds right now
    /// are left out.
    pub fn resident_pages(&self) -> Vec<(LinearAddress, EpcPageId)> {
        resident_in(&self.pages)
    }

    /// A memory failure in one of the enclave's resident pages: the
    /// `pick`-th of [`resident_pages`](Enclave::resident_pages), modulo
    /// their number (a scenario's random choice). `None` if no page is
    /// resident. The enclave dies when it next reads the page.
    ///
    /// The poison is done under the picked page's shard lock, after
    /// checking it is still resident there: a page leaves `Resident` only
    /// under that lock (the reclaimer's EBLOCK moves it to `Reclaiming` and
    /// it is given back to the manager only after that; teardown and
    /// EREMOVE take it under the lock too), so the page is still this
    /// enclave's when the machine and the manager mark it, even under
    /// reclaim pressure: no other enclave can own it by then. The lock
    /// order allows it: `memory_failure` takes the manager's node and list
    /// locks, which come after an enclave's (`docs/ARCHITECTURE.md`, "Lock
    /// order"), and never calls an owner.
    pub fn poison_resident_page(
        &self,
        pick: usize,
    ) -> Option<(LinearAddress, EpcPageId, MemoryFailure)> {
        loop {
            let pages = resident_in(&self.pages);
            if pages.is_empty() {
                return None;
            }
            let (addr, page) = pages[pick % pages.len()];
            let n = addr.page_number();
            let shard = self.pages.lock(n);
            let still = matches!(
                shard.get(&n).map(|r| &r.residency),
                Some(Residency::Resident { page: p, .. }) if p.id() == page
            );
            if !still {
                continue; // it moved since the list was taken: pick again
            }
            // The machine page behind it (the same page on the host).
            let outcome = match self.machine.poison_page(page) {
                Some(_) => self.mm.memory_failure(page).ok(),
                None => None,
            };
            drop(shard);
            return Some((addr, page, outcome?));
        }
    }

    /// The reason to kill the enclave for a leaf that failed on `page`:
    /// the EPC was lost, a poisoned page was read, or `otherwise`.
    pub(crate) fn leaf_kill(
        &self,
        error: LeafError,
        page: LinearAddress,
        otherwise: KillReason,
    ) -> KillReason {
        if self.epc_lost() {
            return KillReason::EpcLost;
        }
        match error.machine_check() {
            Some(mc) => KillReason::MemoryFailure {
                page,
                epc_page: mc.page,
            },
            None => otherwise,
        }
    }
}

/// The resident REG/TCS pages recorded in `pages`, in address order.
fn resident_in(pages: &PageShards) -> Vec<(LinearAddress, EpcPageId)> {
    let mut v: Vec<(LinearAddress, EpcPageId)> = Vec::new();
    pages.for_each(|n, r| {
        if let Residency::Resident { page, .. } = &r.residency {
            v.push((LinearAddress(n * PAGE_SIZE), page.id()));
        }
    });
    v.sort();
    v
}
