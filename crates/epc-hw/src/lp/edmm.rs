//! The enclave side of SGX2's Enclave Dynamic Memory Management: the ENCLU
//! leaves EACCEPT, EACCEPTCOPY and EMODPE, run by a logical processor in
//! enclave mode.
//!
//! Each leaf is one interval of the `busy` flag, like an access, and
//! ends in one of three ways (SDM Vol. 3D, ENCLU[EACCEPT],
//! ENCLU[EACCEPTCOPY], ENCLU[EMODPE]; transcription
//! `faculerena/x86_instructions` `content/x86/{eaccept,eacceptcopy,emodpe}.md`):
//!
//! * success: the EPCM entry changes, the LP stays inside;
//! * an SGX error code in RAX (ZF set): nothing changes, the LP stays
//!   inside ([`LpError::Sgx`]);
//! * an exception (#PF on an operand, #GP): an AEX, as for a faulting
//!   access; the LP is interrupted and ERESUME re-executes the leaf once the
//!   OS has fixed the cause ([`LpError::PageFault`],
//!   [`LpError::GeneralProtection`]).
//!
//! The page operands are linear addresses, translated through the OS page
//! table (not the TLB, which none of these leaves fills): a missing mapping
//! is an ordinary #PF, an EPCM check that fails a #PF with the SGX bit. The
//! SECINFO operand is taken by value; the SDM's checks on the page holding
//! it are not modelled.
//!
//! Concurrency: the target is taken shared, so that these leaves conflict
//! (#GP) with the leaves that take it exclusively (EWB, ELDU, EMODPR, EMODT,
//! EREMOVE) and run beside EBLOCK, as the SDM's tables say; two of them on
//! one page do not conflict in the model (the SDM gives #GP), their EPCM
//! updates being serialised by the entry's lock.

use super::{LogicalProcessor, LpError, Mode};
use crate::cost::Event;
use crate::encls::tcs::TcsView;
use crate::epc::Slot;
use crate::epcm::{PageType, Perms, SecInfo};
use crate::error::{FaultCause, GpCause, Operand, PageFaultInfo, SgxError};
use crate::ids::{EpcPageId, LinearAddress};
use crate::page_table::PageTable;
use crate::secs::SecsControl;
use std::sync::Arc;

/// How an ENCLU leaf ended, short of success.
enum Failure {
    Pf(PageFaultInfo),
    Gp(GpCause),
    Sgx(SgxError),
    /// The leaf read a poisoned page (EACCEPTCOPY's source).
    Mc(LinearAddress, EpcPageId),
}

impl From<SgxError> for Failure {
    fn from(e: SgxError) -> Failure {
        Failure::Sgx(e)
    }
}

/// What the leaves need of the enclave the LP is in.
struct Active {
    secs_page: EpcPageId,
    control: Arc<SecsControl>,
    page_table: Arc<dyn PageTable>,
}

impl LogicalProcessor {
    /// EACCEPT: the enclave accepts a change the OS made to its page at
    /// `addr` (EAUG, EMODPR or EMODT), stating the page's expected
    /// attributes in `secinfo`: a REG page with PENDING (after EAUG) or PR
    /// (after EMODPR) and its permissions, or a TCS or TRIM page with
    /// MODIFIED (after EMODT). On success PENDING, MODIFIED and PR are
    /// cleared.
    ///
    /// Outcomes, in the SDM's order: #GP if `addr` is not page aligned or
    /// outside ELRANGE; #PF if the page is not mapped; #GP if `secinfo` is
    /// not one of the legal requests above; #PF (SGX bit) if the page is not
    /// valid, blocked, of another type or enclave; #GP if a leaf holds it
    /// exclusively; SGX_PAGE_ATTRIBUTES_MISMATCH unless type, R, W, X,
    /// PENDING, MODIFIED and address match the EPCM exactly;
    /// SGX_NOT_TRACKED if the page was changed by EMODPR or EMODT and no
    /// ETRACK cycle begun after that change has completed (every logical
    /// processor inside at the ETRACK must have left the enclave since, so
    /// that no stale translation with the old rights survives); for a TCS,
    /// #GP if it is busy or has no free SSA frame.
    pub fn eaccept(&mut self, addr: LinearAddress, secinfo: SecInfo) -> Result<(), LpError> {
        self.begin_access()?;
        let r = self.eaccept_inner(addr, secinfo);
        self.end_enclu(r, Event::Eaccept)
    }

    /// EACCEPTCOPY: the enclave accepts the page at `dst`, just added by
    /// EAUG (PENDING, REG, RW), by copying into it the page at `src` and
    /// giving it the permissions of `secinfo` (type REG); PENDING is
    /// cleared. No tracking is needed: the page was free before EAUG.
    ///
    /// Outcomes: #GP if an address is misaligned or outside ELRANGE; #PF if
    /// either page is not mapped (`dst` writable); #GP if `secinfo` is not
    /// REG or has W without R; #PF (SGX bit) on `src` unless it is a
    /// readable, accepted REG page of this enclave at `src`;
    /// SGX_PAGE_ATTRIBUTES_MISMATCH unless `dst` is a pending REG page of
    /// this enclave at `dst` with exactly R and W; #GP if a leaf holds `dst`
    /// exclusively.
    pub fn eacceptcopy(
        &mut self,
        dst: LinearAddress,
        src: LinearAddress,
        secinfo: SecInfo,
    ) -> Result<(), LpError> {
        self.begin_access()?;
        let r = self.eacceptcopy_inner(dst, src, secinfo);
        self.end_enclu(r, Event::Eacceptcopy)
    }

    /// EMODPE: the enclave extends the permissions of its accepted REG page
    /// at `addr` by `perms` (each of R, W, X is ORed in). Extending needs no
    /// tracking: a stale translation can only grant less. There are no SGX
    /// error codes.
    ///
    /// Outcomes: #GP if `addr` is misaligned or outside ELRANGE; #PF if it
    /// is not mapped; #PF (SGX bit) unless the page is a valid REG page of
    /// this enclave, at `addr`, neither PENDING, MODIFIED nor blocked; #GP
    /// if a leaf holds it exclusively, or if the page and `perms` both lack
    /// R and `perms` has W.
    pub fn emodpe(&mut self, addr: LinearAddress, perms: Perms) -> Result<(), LpError> {
        self.begin_access()?;
        let r = self.emodpe_inner(addr, perms);
        self.end_enclu(r, Event::Emodpe)
    }

    /// Ends an ENCLU leaf that began with `begin_access`: stays inside on
    /// success or an SGX error code, takes an AEX on an exception.
    fn end_enclu(&mut self, r: Result<(), Failure>, event: Event) -> Result<(), LpError> {
        let ledger = &self.machine.ledger;
        match r {
            Ok(()) => {
                ledger.charge(event);
                self.end_access();
                Ok(())
            }
            Err(Failure::Sgx(e)) => {
                ledger.charge(Event::FailedLeaf);
                self.end_access();
                Err(LpError::Sgx(e))
            }
            Err(Failure::Pf(info)) => {
                ledger.charge(Event::FailedLeaf);
                ledger.charge(Event::PageFault);
                self.exception_exit();
                Err(LpError::PageFault(info))
            }
            Err(Failure::Gp(cause)) => {
                ledger.charge(Event::FailedLeaf);
                self.exception_exit();
                Err(LpError::GeneralProtection(cause))
            }
            Err(Failure::Mc(addr, epc_page)) => {
                ledger.charge(Event::FailedLeaf);
                self.exception_exit();
                Err(LpError::MachineCheck { addr, epc_page })
            }
        }
    }

    fn active(&self) -> Active {
        let Mode::Inside(ctx) = &self.mode else {
            unreachable!("ENCLU leaves begin inside");
        };
        let control = self
            .machine
            .secs_control(ctx.secs_page)
            .expect("the SECS of an enclave with a thread inside is resident");
        Active {
            secs_page: ctx.secs_page,
            control,
            page_table: ctx.page_table.clone(),
        }
    }

    /// The SDM's first checks on a page operand: #GP if it is not page
    /// aligned or not inside ELRANGE.
    fn check_address(a: &Active, addr: LinearAddress) -> Result<(), Failure> {
        if !addr.is_page_aligned() {
            return Err(Failure::Gp(GpCause::Misaligned));
        }
        if !a.control.contains(addr) {
            return Err(Failure::Gp(GpCause::OutsideElrange));
        }
        Ok(())
    }

    /// Resolves a page operand through the OS page table: #PF (SGX bit
    /// clear) if it is not mapped (or not writable, for a `write` operand)
    /// or not an EPC page.
    fn resolve(
        &self,
        a: &Active,
        addr: LinearAddress,
        write: bool,
    ) -> Result<(EpcPageId, Slot<'_>), Failure> {
        let fault = |cause, epc_page| Failure::Pf(PageFaultInfo::new(addr, write, cause, epc_page));
        let pte = a
            .page_table
            .translate(addr)
            .ok_or(fault(FaultCause::NotPresent, None))?;
        if write && !pte.writable {
            return Err(fault(FaultCause::PteReadOnly, Some(pte.page)));
        }
        let slot = self
            .machine
            .epc
            .slot(pte.page)
            .ok_or(fault(FaultCause::NotEpc, Some(pte.page)))?;
        Ok((pte.page, slot))
    }

    fn eaccept_inner(&mut self, addr: LinearAddress, si: SecInfo) -> Result<(), Failure> {
        let a = self.active();
        Self::check_address(&a, addr)?;
        let (page, slot) = self.resolve(&a, addr, false)?;
        let pf = |cause| Failure::Pf(PageFaultInfo::new(addr, false, cause, Some(page)));
        // The legal requests (SDM EACCEPT, "Check that the combination of
        // requested PT, PENDING, and MODIFIED is legal").
        let legal = match si.page_type {
            PageType::Reg => (si.pr || si.pending) && !si.modified,
            PageType::Tcs | PageType::Trim => !si.pr && !si.pending && si.modified,
            _ => false,
        };
        if !legal {
            return Err(Failure::Gp(GpCause::InvalidSecInfo));
        }
        let e = *slot.epcm.lock();
        let cause = if !e.valid {
            Some(FaultCause::EpcmInvalid)
        } else if e.blocked {
            Some(FaultCause::Blocked)
        } else if !matches!(
            e.secinfo.page_type,
            PageType::Reg | PageType::Tcs | PageType::Trim
        ) {
            Some(FaultCause::WrongType)
        } else if e.secs != Some(a.secs_page) {
            Some(FaultCause::WrongOwner)
        } else {
            None
        };
        if let Some(cause) = cause {
            return Err(pf(cause));
        }
        let _busy = slot
            .try_shared()
            .ok_or(Failure::Gp(GpCause::Conflict(Operand::Target)))?;
        let tracking = a.control.tracking.lock();
        let mut e = slot.epcm.lock();
        if !e.valid || e.secs != Some(a.secs_page) {
            return Err(pf(FaultCause::EpcmInvalid));
        }
        let s = e.secinfo;
        if e.linaddr != addr
            || s.pending != si.pending
            || s.modified != si.modified
            || s.perms != si.perms
            || s.page_type != si.page_type
        {
            return Err(SgxError::PageAttributesMismatch.into());
        }
        if e.modify_epoch.is_some_and(|ep| !tracking.is_tracked(ep)) {
            return Err(SgxError::NotTracked.into());
        }
        if si.page_type == PageType::Tcs {
            let tcs = TcsView(slot.data());
            if tcs.is_busy() || tcs.cssa() >= tcs.nssa() {
                return Err(Failure::Gp(GpCause::InvalidTcs));
            }
        }
        e.secinfo.pending = false;
        e.secinfo.modified = false;
        e.secinfo.pr = false;
        e.modify_epoch = None;
        Ok(())
    }

    fn eacceptcopy_inner(
        &mut self,
        dst: LinearAddress,
        src: LinearAddress,
        si: SecInfo,
    ) -> Result<(), Failure> {
        let a = self.active();
        for addr in [dst, src] {
            if !addr.is_page_aligned() {
                return Err(Failure::Gp(GpCause::Misaligned));
            }
        }
        Self::check_address(&a, dst)?;
        Self::check_address(&a, src)?;
        let (_, dst_slot) = self.resolve(&a, dst, true)?;
        let (src_page, src_slot) = self.resolve(&a, src, false)?;
        if si.page_type != PageType::Reg
            || (si.perms.contains(Perms::W) && !si.perms.contains(Perms::R))
        {
            return Err(Failure::Gp(GpCause::InvalidSecInfo));
        }
        let src_e = *src_slot.epcm.lock();
        super::walk::epcm_check(&src_e, PageType::Reg, src, Some(a.secs_page), Perms::R)
            .map_err(|cause| Failure::Pf(PageFaultInfo::new(src, false, cause, Some(src_page))))?;
        let pending_reg = |e: &crate::epcm::EpcmEntry| {
            e.valid
                && e.secinfo.pending
                && !e.secinfo.modified
                && !e.blocked
                && e.secinfo.page_type == PageType::Reg
                && e.secs == Some(a.secs_page)
        };
        if !pending_reg(&dst_slot.epcm.lock()) {
            return Err(SgxError::PageAttributesMismatch.into());
        }
        let _busy = dst_slot
            .try_shared()
            .ok_or(Failure::Gp(GpCause::Conflict(Operand::Target)))?;
        let mut e = dst_slot.epcm.lock();
        if !pending_reg(&e) || e.secinfo.perms != Perms::RW || e.linaddr != dst {
            return Err(SgxError::PageAttributesMismatch.into());
        }
        // The source is read: a poisoned one is a machine check.
        if src_slot.is_poisoned() {
            return Err(Failure::Mc(src, src_page));
        }
        let mut bytes = [0u8; 4096];
        src_slot.data().read_bytes(&mut bytes);
        dst_slot.data().write_bytes(&bytes);
        e.secinfo.perms = si.perms;
        e.secinfo.pending = false;
        Ok(())
    }

    fn emodpe_inner(&mut self, addr: LinearAddress, perms: Perms) -> Result<(), Failure> {
        let a = self.active();
        Self::check_address(&a, addr)?;
        let (page, slot) = self.resolve(&a, addr, false)?;
        let pf = |cause| Failure::Pf(PageFaultInfo::new(addr, false, cause, Some(page)));
        let e = *slot.epcm.lock();
        super::walk::epcm_check(&e, PageType::Reg, addr, Some(a.secs_page), Perms::NONE)
            .map_err(pf)?;
        let _busy = slot
            .try_shared()
            .ok_or(Failure::Gp(GpCause::Conflict(Operand::Target)))?;
        let mut e = slot.epcm.lock();
        let recheck = crate::epcm::EpcmEntry {
            blocked: false,
            ..*e
        };
        super::walk::epcm_check(
            &recheck,
            PageType::Reg,
            addr,
            Some(a.secs_page),
            Perms::NONE,
        )
        .map_err(pf)?;
        if !e.secinfo.perms.contains(Perms::R)
            && !perms.contains(Perms::R)
            && perms.contains(Perms::W)
        {
            return Err(Failure::Gp(GpCause::InvalidSecInfo));
        }
        e.secinfo.perms = e.secinfo.perms.union(perms);
        Ok(())
    }
}
