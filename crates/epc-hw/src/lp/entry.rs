//! Enclave entry and exit: EENTER, ERESUME and EEXIT.

use super::ipi::ExitKind;
use super::state::{backoff, InsideCtx, INSIDE, OUTSIDE};
use super::walk::epcm_check;
use super::{Ctx, LogicalProcessor, LpError, Mode};
use crate::cost::Event;
use crate::encls::tcs::TcsView;
use crate::epcm::{PageType, Perms};
use crate::error::{FaultCause, GpCause, PageFaultInfo};
use crate::ids::{EpcPageId, LinearAddress, PAGE_SIZE};
use crate::page_table::PageTable;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Enter,
    Resume,
}

impl LogicalProcessor {
    /// EENTER at the TCS mapped at `tcs` in `page_table`.
    ///
    /// Page faults (the TCS or the next SSA frame not mapped or not usable)
    /// happen outside enclave mode: fix the page and retry. #GP if the
    /// enclave is not initialized, the TCS is busy or has no free SSA frame.
    pub fn eenter(
        &mut self,
        tcs: LinearAddress,
        page_table: Arc<dyn PageTable>,
    ) -> Result<(), LpError> {
        if !matches!(self.mode, Mode::Outside) {
            return Err(LpError::AlreadyInEnclave);
        }
        if !tcs.is_page_aligned() {
            return Err(LpError::GeneralProtection(GpCause::Misaligned));
        }
        self.enter(tcs, page_table, Entry::Enter)
    }

    /// ERESUME the interrupted context, after an AEX.
    pub fn eresume(&mut self) -> Result<(), LpError> {
        let Mode::Interrupted(ctx) = &self.mode else {
            return Err(LpError::NothingToResume);
        };
        let (tcs, pt) = (ctx.tcs, ctx.page_table.clone());
        // An IPI sender may still be completing the exit it claimed.
        let mut spins = 0;
        while self.shared.state_now() != OUTSIDE {
            backoff(&mut spins);
        }
        self.enter(tcs, pt, Entry::Resume)
    }

    /// EEXIT.
    pub fn eexit(&mut self) -> Result<(), LpError> {
        match self.mode {
            Mode::Inside(_) => {}
            Mode::Interrupted(_) => return Err(LpError::Interrupted),
            Mode::Outside => return Err(LpError::NotInEnclave),
        }
        if !self.shared.claim_exit_as_owner() {
            self.note_async_exit();
            return Err(LpError::Interrupted);
        }
        self.machine.finish_exit(&self.shared, ExitKind::Eexit);
        self.machine.ledger.charge(Event::Eexit);
        self.tlb.flush();
        self.mode = Mode::Outside;
        Ok(())
    }

    fn enter(
        &mut self,
        tcs: LinearAddress,
        page_table: Arc<dyn PageTable>,
        entry: Entry,
    ) -> Result<(), LpError> {
        let fault = |page: LinearAddress, cause: FaultCause, epc_page: Option<EpcPageId>| {
            LpError::PageFault(PageFaultInfo::new(page, false, cause, epc_page))
        };
        let epc = &self.machine.epc;
        let pte = page_table
            .translate(tcs)
            .ok_or(fault(tcs, FaultCause::NotPresent, None))?;
        let tcs_slot = epc
            .slot(pte.page)
            .ok_or(fault(tcs, FaultCause::NotEpc, Some(pte.page)))?;
        let tcs_entry = *tcs_slot.epcm.lock();
        // SDM EENTER/ERESUME: the TCS must be valid, not blocked, PENDING or
        // MODIFIED (a TCS made by EMODT is usable only once accepted), of
        // type TCS at this address.
        epcm_check(&tcs_entry, PageType::Tcs, tcs, None, Perms::NONE)
            .map_err(|cause| fault(tcs, cause, Some(pte.page)))?;
        let secs_page = tcs_entry.secs.expect("a TCS names its SECS");
        let control = self.machine.secs_control(secs_page).ok_or(fault(
            tcs,
            FaultCause::WrongOwner,
            Some(pte.page),
        ))?;
        if !control.is_initialized() {
            return Err(LpError::GeneralProtection(GpCause::NotInitialized));
        }

        // Under the tracking lock, so that no EBLOCK/ETRACK/EWB of the TCS or
        // SSA page can slip between these checks and the registration.
        let mut tracking = control.tracking.lock();
        if *tcs_slot.epcm.lock() != tcs_entry {
            return Err(fault(tcs, FaultCause::EpcmInvalid, Some(pte.page)));
        }
        if tcs_slot.is_poisoned() {
            return Err(LpError::MachineCheck {
                addr: tcs,
                epc_page: pte.page,
            });
        }
        let view = TcsView(tcs_slot.data());
        let (cssa, nssa) = (view.cssa(), view.nssa());
        let frame = match entry {
            Entry::Enter if cssa < nssa => cssa,
            Entry::Resume if cssa > 0 => cssa - 1,
            _ => return Err(LpError::GeneralProtection(GpCause::SsaFrame)),
        };
        let ssa = control.base.add(view.ossa() + u64::from(frame) * PAGE_SIZE);
        let ssa_pte = page_table
            .translate(ssa)
            .ok_or(fault(ssa, FaultCause::NotPresent, None))?;
        let ssa_slot =
            epc.slot(ssa_pte.page)
                .ok_or(fault(ssa, FaultCause::NotEpc, Some(ssa_pte.page)))?;
        let ssa_entry = *ssa_slot.epcm.lock();
        epcm_check(&ssa_entry, PageType::Reg, ssa, Some(secs_page), Perms::RW)
            .map_err(|cause| fault(ssa, cause, Some(ssa_pte.page)))?;
        if !ssa_pte.writable {
            return Err(fault(ssa, FaultCause::PteReadOnly, Some(ssa_pte.page)));
        }
        // ERESUME restores the state saved in the SSA frame.
        if entry == Entry::Resume && self.machine.is_poisoned(ssa_pte.page) {
            return Err(LpError::MachineCheck {
                addr: ssa,
                epc_page: ssa_pte.page,
            });
        }
        if !view.try_acquire() {
            return Err(LpError::GeneralProtection(GpCause::TcsBusy));
        }
        if entry == Entry::Resume {
            view.set_cssa(cssa - 1);
        }
        tracking.enter(self.shared.id);
        *self.shared.ctx.lock() = Some(InsideCtx {
            control: control.clone(),
            tcs_page: pte.page,
        });
        // Clears a stale exit request (from a sender whose target was an
        // earlier stay, already over).
        self.shared.state.store(INSIDE, Ordering::SeqCst);
        drop(tracking);

        self.tlb.flush();
        self.mode = Mode::Inside(Ctx {
            tcs,
            secs_page,
            page_table,
        });
        self.machine.ledger.charge(match entry {
            Entry::Enter => Event::Eenter,
            Entry::Resume => Event::Eresume,
        });
        Ok(())
    }
}
