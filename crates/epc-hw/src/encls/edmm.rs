//! The OS side of SGX2's Enclave Dynamic Memory Management: EAUG, EMODPR and
//! EMODT. The enclave side (EACCEPT, EACCEPTCOPY, EMODPE) runs on a logical
//! processor (`lp/edmm.rs`); EREMOVE of trimmed pages is in `lifecycle.rs`.
//!
//! Checks follow the SDM's pseudocode, in its order (Intel SDM Vol. 3D,
//! "Intel SGX Instruction References", ENCLS[EAUG], ENCLS[EMODPR],
//! ENCLS[EMODT]; read through the transcription `faculerena/x86_instructions`
//! `content/x86/{eaug,emodpr,emodt}.md`). The SECINFO operand is taken by
//! value, as EADD takes it: the model has no reserved bits to check in it.

use crate::cost::Event;
use crate::epcm::{EpcmEntry, PageType, Perms, SecInfo};
use crate::error::{gp, pf, GpCause, LeafResult, Operand, PfCause, SgxError};
use crate::ids::{EpcPageId, LinearAddress};
use crate::Machine;
use std::sync::atomic::Ordering;

impl Machine {
    /// EAUG: adds the free page `page` to the initialized enclave whose SECS
    /// is `secs_page`, at `linaddr`: zeroed, a REG page with R and W (the
    /// SDM's default SECINFO), PENDING, so that no access can use it until
    /// the enclave accepts it with EACCEPT or EACCEPTCOPY.
    ///
    /// Faults, in the SDM's order: #PF if the target is not an EPC page; #GP
    /// if `linaddr` is not page aligned; #PF if the SECS operand is not an
    /// EPC page; #GP if the target is in use by another leaf; #PF if it is
    /// valid; #GP if the SECS is in use exclusively; #PF if the SECS operand
    /// is not a valid SECS; #GP if the enclave is not initialized or
    /// `linaddr` lies outside ELRANGE. EAUG has no SGX error codes.
    pub fn eaug(
        &self,
        page: EpcPageId,
        secs_page: EpcPageId,
        linaddr: LinearAddress,
    ) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            if !linaddr.is_page_aligned() {
                return Err(gp(GpCause::Misaligned));
            }
            let secs_slot = self.slot_of(secs_page, Operand::Secs)?;
            // SDM EAUG concurrency: target Exclusive #GP, SECS Shared #GP.
            let _busy = slot.exclusive_for(Operand::Target)?;
            if slot.epcm.page_type().is_some() {
                return Err(pf(Operand::Target, PfCause::AlreadyValid));
            }
            let _secs_busy = secs_slot.shared_for(Operand::Secs)?;
            let control = self.secs_operand(secs_page)?;
            if !control.is_initialized() {
                return Err(gp(GpCause::NotInitialized));
            }
            if !control.contains(linaddr) {
                return Err(gp(GpCause::OutsideElrange));
            }
            // EAUG reads the SECS (ELRANGE, attributes); the target is only
            // written.
            self.consume(secs_slot, secs_page, Operand::Secs)?;
            slot.data().zero();
            *slot.epcm.lock() = EpcmEntry {
                valid: true,
                secinfo: SecInfo {
                    pending: true,
                    ..SecInfo::reg(Perms::RW)
                },
                blocked: false,
                secs: Some(secs_page),
                linaddr,
                block_epoch: 0,
                // The page was free: no TLB can hold a translation to it, so
                // its EACCEPT needs no tracking.
                modify_epoch: None,
            };
            control.children.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })();
        self.account(Event::Eaug, r)
    }

    /// EMODPR: restricts the permissions of the REG page `page` of an
    /// initialized enclave to those in `mask` (R, W and X are each ANDed),
    /// and sets PR until the enclave accepts the change. The EPCM changes at
    /// once, but translations already cached keep the old rights until
    /// their logical processors leave the enclave; EACCEPT refuses with
    /// SGX_NOT_TRACKED until an ETRACK cycle begun after this leaf has
    /// completed.
    ///
    /// #PF if `page` is not an EPC page; #GP if `mask` has W without R;
    /// SGX_EPC_PAGE_CONFLICT if another leaf holds the page; #PF if it is
    /// not valid; SGX_PAGE_NOT_MODIFIABLE if it is PENDING or MODIFIED; #PF
    /// if it is not a REG page; #GP if the enclave is not initialized.
    pub fn emodpr(&self, page: EpcPageId, mask: Perms) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            if mask.contains(Perms::W) && !mask.contains(Perms::R) {
                return Err(gp(GpCause::InvalidSecInfo));
            }
            // SDM EMODPR: a conflict on the target is reported as
            // SGX_EPC_PAGE_CONFLICT (Table "EMODPR Return Value in RAX").
            let _busy = slot.try_exclusive().ok_or(SgxError::EpcPageConflict)?;
            let entry = *slot.epcm.lock();
            if !entry.valid {
                return Err(pf(Operand::Target, PfCause::NotValid));
            }
            if entry.secinfo.pending || entry.secinfo.modified {
                return Err(SgxError::PageNotModifiable.into());
            }
            if entry.secinfo.page_type != PageType::Reg {
                return Err(pf(Operand::Target, PfCause::WrongType));
            }
            let control = self
                .secs_control(entry.secs.expect("child pages name their SECS"))
                .expect("a child page's SECS is resident");
            if !control.is_initialized() {
                return Err(gp(GpCause::NotInitialized));
            }
            let tracking = control.tracking.lock();
            let mut e = slot.epcm.lock();
            e.secinfo.pr = true;
            e.secinfo.perms = e.secinfo.perms.intersection(mask);
            e.modify_epoch = Some(tracking.epoch());
            Ok(())
        })();
        self.account(Event::Emodpr, r)
    }

    /// EMODT: changes the type of `page` to `to`, TCS (from REG) or TRIM
    /// (from REG or TCS), with MODIFIED set and R, W, X and PR cleared, so
    /// that no access can use the page until the enclave accepts the change
    /// (after an ETRACK cycle, as for EMODPR).
    ///
    /// #PF if `page` is not an EPC page; #GP if `to` is neither TCS nor
    /// TRIM; SGX_EPC_PAGE_CONFLICT if another leaf holds the page; #PF if it
    /// is not valid or its type cannot change to `to`;
    /// SGX_PAGE_NOT_MODIFIABLE if it is PENDING or MODIFIED; #GP if the
    /// enclave is not initialized.
    pub fn emodt(&self, page: EpcPageId, to: PageType) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            if !matches!(to, PageType::Tcs | PageType::Trim) {
                return Err(gp(GpCause::InvalidSecInfo));
            }
            let _busy = slot.try_exclusive().ok_or(SgxError::EpcPageConflict)?;
            let entry = *slot.epcm.lock();
            if !entry.valid {
                return Err(pf(Operand::Target, PfCause::NotValid));
            }
            let from = entry.secinfo.page_type;
            if !(from == PageType::Reg || (from == PageType::Tcs && to == PageType::Trim)) {
                return Err(pf(Operand::Target, PfCause::WrongType));
            }
            if entry.secinfo.pending || entry.secinfo.modified {
                return Err(SgxError::PageNotModifiable.into());
            }
            let control = self
                .secs_control(entry.secs.expect("child pages name their SECS"))
                .expect("a child page's SECS is resident");
            if !control.is_initialized() {
                return Err(gp(GpCause::NotInitialized));
            }
            let tracking = control.tracking.lock();
            let mut e = slot.epcm.lock();
            e.secinfo = SecInfo {
                page_type: to,
                perms: Perms::NONE,
                pending: false,
                modified: true,
                pr: false,
            };
            e.modify_epoch = Some(tracking.epoch());
            Ok(())
        })();
        self.account(Event::Emodt, r)
    }
}
