//! Removing trimmed pages at run time (SGX2), the OS side of Linux's
//! `SGX_IOC_ENCLAVE_REMOVE_PAGES`: once the enclave has accepted the TRIM
//! type of a page, EREMOVE frees it at once, even with threads inside.
//!
//! Per page, under the enclave lock: the page must be resident (an evicted
//! one is reloaded first, as Linux does); EMODPR is the probe for "accepted"
//! (SGX_PAGE_NOT_MODIFIABLE while MODIFIED is set: refused; a #PF for a
//! page that is no longer REG: accepted); the page is taken off the
//! reclaimable list (if a reclaim batch holds it, the call stops with
//! [`EnclaveError::Busy`]: nothing changed, the page is still there, try
//! again); then unmap, EREMOVE, uncount the child, give back the page's VA
//! slot reservation, free and uncharge the page.

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::{leaf, EnclaveError};
use crate::state::{Residency, SecsState};
use epc_hw::{Fault, LeafError, LinearAddress, PageType, Perms, PfCause, SgxError, PAGE_SIZE};
use epc_mm::{ListError, ReclaimPermit};

/// IPI rounds against SGX_ENCLAVE_ACT (which an accepted TRIM page never
/// gives; kept as a safety net).
const EREMOVE_ROUNDS: u32 = 64;

impl Enclave {
    /// Removes the `pages` accepted TRIM pages from `addr` and returns how
    /// many were removed. [`EnclaveError::Busy`] (with the count done) if
    /// the reclaimer holds one right now: call again from that page.
    /// [`EnclaveError::Usage`] for a page that is not trimmed, or whose
    /// trim the enclave has not accepted yet.
    pub fn remove_pages(
        &self,
        addr: LinearAddress,
        pages: u64,
        permit: &mut ReclaimPermit,
    ) -> Result<u64, EnclaveError> {
        self.check_alive()?;
        for i in 0..pages {
            let a = addr.add(i * PAGE_SIZE).page();
            self.remove_page(a, i, permit)?;
        }
        Ok(pages)
    }

    fn remove_page(
        &self,
        addr: LinearAddress,
        done: u64,
        permit: &mut ReclaimPermit,
    ) -> Result<(), EnclaveError> {
        let n = addr.page_number();
        loop {
            self.check_alive()?;
            let inner = self.lock(permit);
            let mut shard = self.pages.lock(n);
            let Some(rec) = shard.get(&n) else {
                return Err(EnclaveError::Usage(format!("no enclave page at {addr}")));
            };
            if rec.secinfo.page_type != PageType::Trim {
                return Err(EnclaveError::Usage(format!(
                    "page {addr} is not trimmed (EMODT to TRIM first)"
                )));
            }
            let (page, listed) = match &rec.residency {
                Residency::Resident { page, listed } => (page, *listed),
                Residency::Reclaiming { .. } | Residency::Loading => {
                    drop(shard);
                    drop(inner);
                    bump(&self.cells.busy_retries);
                    std::thread::yield_now();
                    continue;
                }
                Residency::Evicted { .. } => {
                    drop(shard);
                    drop(inner);
                    self.handle_fault(addr, false, permit)?;
                    continue;
                }
            };
            let id = page.id();
            // The probe: EMODPR refuses an unaccepted TRIM page with
            // SGX_PAGE_NOT_MODIFIABLE and faults on an accepted one (not
            // REG), changing nothing either way.
            match self.machine.emodpr(id, Perms::RWX) {
                Err(LeafError::Sgx(SgxError::PageNotModifiable)) => {
                    return Err(EnclaveError::Usage(format!(
                        "the trim of page {addr} is not accepted yet (EACCEPT first)"
                    )))
                }
                Err(LeafError::Sgx(SgxError::EpcPageConflict)) => {
                    drop(shard);
                    drop(inner);
                    std::thread::yield_now();
                    continue;
                }
                Err(LeafError::Fault(Fault::PageFault {
                    cause: PfCause::WrongType,
                    ..
                })) => {}
                Ok(()) => unreachable!("EMODPR succeeds only on REG pages"),
                Err(e) => return Err(leaf("EMODPR (probe)")(e)),
            }
            if listed && self.mm.unmark_reclaimable(page) == Err(ListError::Busy) {
                return Err(EnclaveError::Busy { addr, done });
            }
            let SecsState::Resident(secs) = &inner.secs else {
                unreachable!("a resident child keeps the SECS resident")
            };
            let secs = secs.id();
            self.pt.unmap(addr);
            let mut rounds = 0;
            loop {
                match self.machine.eremove(id) {
                    Ok(()) => break,
                    Err(LeafError::Sgx(SgxError::EnclaveAct)) if rounds < EREMOVE_ROUNDS => {
                        rounds += 1;
                        self.ipi(secs);
                    }
                    Err(e) => {
                        // Nothing changed: the page stays, off the list.
                        if let Some(Residency::Resident { listed, .. }) =
                            shard.get_mut(&n).map(|r| &mut r.residency)
                        {
                            *listed = false;
                        }
                        return Err(leaf("EREMOVE")(e));
                    }
                }
            }
            bump(&self.cells.eremove_trim);
            let rec = shard.remove(&n).expect("checked above");
            drop(shard);
            self.gate.remove_child();
            self.va.lock().unreserve();
            drop(inner);
            let Residency::Resident { page, .. } = rec.residency else {
                unreachable!("checked above")
            };
            if let Err(e) = self.mm.free(page) {
                debug_assert!(false, "freeing a removed page: {e:?}");
            }
            return Ok(());
        }
    }
}
