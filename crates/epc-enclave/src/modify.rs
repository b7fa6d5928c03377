//! Changing pages at run time (SGX2), the OS side of Linux's
//! `SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS` and `SGX_IOC_ENCLAVE_MODIFY_TYPES`:
//! EMODPR or EMODT on each page of a range, then one ETRACK and IPIs so that
//! no logical processor keeps a translation with the old rights, and the
//! enclave can accept each page (EACCEPT, `accept.rs`).
//!
//! Each page must be resident for the leaf: an evicted page is reloaded
//! first (the fault path, with reclaim, outside the lock), a page the
//! reclaimer is writing is waited for. The leaf runs under the enclave
//! lock, so the reclaimer (whose EBLOCK takes the same lock, and whose EWB
//! runs only on a page it has blocked) cannot take the page meanwhile.
//! Like the ioctls, the call reports how many pages were changed and, if a
//! leaf refused, its SGX error code: the range stops there.

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::{leaf, EnclaveError};
use crate::state::{Residency, SecsState, TcsInfo};
use epc_hw::{
    EpcPageId, Fault, LeafError, LinearAddress, PageType, Perms, PfCause, SecInfo, SgxError,
    PAGE_SIZE,
};
use epc_mm::ReclaimPermit;

/// How many times a page held by another leaf for a moment (a thread's
/// EACCEPT) is retried before its SGX_EPC_PAGE_CONFLICT is reported.
const CONFLICT_RETRIES: u32 = 10_000;

/// What a range operation did, as Linux's ioctls report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModifyOutcome {
    /// Pages changed, from the start of the range.
    pub count: u64,
    /// The SGX error code of the leaf that stopped the range early
    /// (SGX_PAGE_NOT_MODIFIABLE: a change not yet accepted;
    /// SGX_EPC_PAGE_CONFLICT), or `None` if every page was changed.
    pub result: Option<SgxError>,
}

impl Enclave {
    /// Restricts the permissions of the `pages` REG pages from `addr` to
    /// `perms` (EMODPR, each of R, W, X ANDed), then ETRACK and IPIs. The
    /// enclave then accepts each page with
    /// `SecInfo::emodpr(old ∩ perms)`; a page that lost W is mapped
    /// read-only from now on.
    pub fn restrict_permissions(
        &self,
        addr: LinearAddress,
        pages: u64,
        perms: Perms,
        permit: &mut ReclaimPermit,
    ) -> Result<ModifyOutcome, EnclaveError> {
        self.modify_range(addr, pages, permit, |e, page, rec_perms| {
            e.machine.emodpr(page, perms)?;
            bump(&e.cells.emodpr);
            Ok(SecInfo::reg(rec_perms.intersection(perms)))
        })
    }

    /// Changes the type of the `pages` pages from `addr` to `to` (EMODT):
    /// TCS from REG, TRIM from REG or TCS, then ETRACK and IPIs. The
    /// enclave then accepts each page with `SecInfo::emodt(to)`. A page
    /// running as a thread's TCS or SSA is refused ([`EnclaveError::Usage`]).
    /// A new TCS is usable by [`Enclave::thread`] once accepted and
    /// registered ([`EnclaveThread::add_tcs`](crate::EnclaveThread::add_tcs)).
    pub fn modify_types(
        &self,
        addr: LinearAddress,
        pages: u64,
        to: PageType,
        permit: &mut ReclaimPermit,
    ) -> Result<ModifyOutcome, EnclaveError> {
        self.modify_range(addr, pages, permit, |e, page, _| {
            e.machine.emodt(page, to)?;
            bump(&e.cells.emodt);
            Ok(match to {
                PageType::Tcs => SecInfo::tcs(),
                _ => SecInfo {
                    page_type: to,
                    ..SecInfo::reg(Perms::NONE)
                },
            })
        })
    }

    fn modify_range(
        &self,
        addr: LinearAddress,
        pages: u64,
        permit: &mut ReclaimPermit,
        op: impl Fn(&Enclave, EpcPageId, Perms) -> Result<SecInfo, LeafError>,
    ) -> Result<ModifyOutcome, EnclaveError> {
        self.check_alive()?;
        if !self.is_initialized() {
            return Err(EnclaveError::Usage("EDMM change before EINIT".into()));
        }
        let mut outcome = ModifyOutcome {
            count: 0,
            result: None,
        };
        for i in 0..pages {
            let a = addr.add(i * PAGE_SIZE).page();
            match self.modify_page(a, permit, &op)? {
                None => outcome.count += 1,
                Some(e) => {
                    outcome.result = Some(e);
                    break;
                }
            }
        }
        if outcome.count > 0 {
            self.flush_translations(permit);
        }
        Ok(outcome)
    }

    /// Runs `op` on the resident page at `addr` under the lock, loading it
    /// first if it was evicted. `Some(code)` if the leaf answered an SGX
    /// error code.
    fn modify_page(
        &self,
        addr: LinearAddress,
        permit: &mut ReclaimPermit,
        op: &impl Fn(&Enclave, EpcPageId, Perms) -> Result<SecInfo, LeafError>,
    ) -> Result<Option<SgxError>, EnclaveError> {
        let n = addr.page_number();
        let mut conflicts = 0;
        loop {
            self.check_alive()?;
            let mut inner = self.lock(permit);
            let mut shard = self.pages.lock(n);
            let Some(rec) = shard.get_mut(&n) else {
                return Err(EnclaveError::Usage(format!("no enclave page at {addr}")));
            };
            if rec.pins > 0 {
                return Err(EnclaveError::Usage(format!(
                    "page {addr} is a running thread's TCS or SSA"
                )));
            }
            let page = match &rec.residency {
                Residency::Resident { page, .. } => page.id(),
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
            let was_tcs = rec.secinfo.page_type == PageType::Tcs;
            match op(self, page, rec.secinfo.perms) {
                Ok(secinfo) => {
                    rec.secinfo = secinfo;
                    if was_tcs {
                        // A trimmed TCS takes no thread any more.
                        for t in inner.tcs.iter_mut().filter(|t| t.addr == addr) {
                            t.retired = true;
                        }
                    }
                    // A REG page that lost W is mapped read-only. A TCS or
                    // TRIM page stays mapped: EACCEPT translates its
                    // address, and the EPCM refuses any access to it;
                    // removal unmaps it.
                    if secinfo.page_type == PageType::Reg {
                        self.pt.map(addr, page, secinfo.perms.contains(Perms::W));
                    }
                    return Ok(None);
                }
                Err(LeafError::Sgx(SgxError::EpcPageConflict)) if conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    drop(shard);
                    drop(inner);
                    std::thread::yield_now();
                }
                Err(LeafError::Sgx(e)) => return Ok(Some(e)),
                Err(LeafError::Fault(Fault::PageFault {
                    cause: PfCause::WrongType,
                    ..
                })) => {
                    return Err(EnclaveError::Usage(format!(
                        "page {addr} is not of a type this change applies to"
                    )))
                }
                Err(e) => return Err(leaf("EMODPR/EMODT")(e)),
            }
        }
    }

    /// ETRACK and IPIs after a change: once they return, every logical
    /// processor that was inside has left, the tracking cycle is complete,
    /// and the enclave's EACCEPT of the changed pages can succeed. If the
    /// SECS was evicted meanwhile, every changed page was evicted after it
    /// and the reclaimer's own ETRACK cycle already covers the change.
    pub(crate) fn flush_translations(&self, permit: &mut ReclaimPermit) {
        let inner = self.lock(permit);
        let SecsState::Resident(secs) = &inner.secs else {
            return;
        };
        let secs = secs.id();
        // A refused ETRACK (a cycle still open, or another ETRACK running
        // this instant): the IPIs end the open cycle; try again.
        for _ in 0..100_000 {
            if self.etrack(secs) {
                break;
            }
            self.ipi(secs);
            std::thread::yield_now();
        }
        self.ipi(secs);
    }

    /// The permissions the enclave layer records for the REG page at
    /// `addr` (after a restriction: the ones EACCEPT must state).
    pub fn page_perms(&self, addr: LinearAddress) -> Option<Perms> {
        let n = addr.page_number();
        let shard = self.pages.lock(n);
        let rec = shard.get(&n)?;
        (rec.secinfo.page_type == PageType::Reg).then_some(rec.secinfo.perms)
    }

    /// Registers the accepted TCS at `tcs` (with `nssa` SSA frames at
    /// `ssa`) so that [`Enclave::thread`] can bind a thread to it.
    pub(crate) fn register_tcs(&self, tcs: LinearAddress, ssa: LinearAddress, nssa: u32) {
        self.inner.lock().tcs.push(TcsInfo {
            addr: tcs,
            ssa,
            nssa,
            bound: false,
            retired: false,
        });
    }
}
