//! ECREATE, EADD, EINIT, EREMOVE and EPA.

use crate::cost::Event;
use crate::epcm::{EpcmEntry, PageType, Perms, SecInfo};
use crate::error::{gp, pf, GpCause, LeafResult, Operand, PfCause, SgxError};
use crate::ids::{EnclaveId, EpcPageId, LinearAddress, PAGE_SIZE};
use crate::machine::SecsRef;
use crate::secs::{valid_range, SecsControl};
use crate::Machine;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Machine {
    /// ECREATE: makes `secs_page` the SECS of a new enclave whose range
    /// (ELRANGE) is `size` bytes at `base`, and returns its EID.
    ///
    /// #PF if the page is not an EPC page or is valid; #GP if the size is not
    /// a power of two of at least two pages, the base not aligned to it, or
    /// the page is in use by another leaf.
    pub fn ecreate(
        &self,
        secs_page: EpcPageId,
        base: LinearAddress,
        size: u64,
    ) -> LeafResult<EnclaveId> {
        let r = (|| {
            let slot = self.slot_of(secs_page, Operand::Target)?;
            if !valid_range(base, size) {
                return Err(gp(GpCause::InvalidSecs));
            }
            let _busy = slot.exclusive_for(Operand::Target)?;
            let mut e = slot.epcm.lock();
            if e.valid {
                return Err(pf(Operand::Target, PfCause::AlreadyValid));
            }
            let eid = EnclaveId(self.next_eid.fetch_add(1, Ordering::Relaxed));
            let control = Arc::new(SecsControl::new(eid, base, size));
            control.store(slot.data());
            *e = EpcmEntry {
                valid: true,
                secinfo: SecInfo {
                    page_type: PageType::Secs,
                    ..SecInfo::default()
                },
                ..EpcmEntry::FREE
            };
            e.secinfo.perms = Perms::NONE;
            self.enclaves.write().insert(secs_page, control);
            Ok(eid)
        })();
        self.account(Event::Ecreate, r)
    }

    /// EADD: copies `content` into `page` as a page of the enclave whose SECS
    /// is `secs_page`, at `linaddr`, with type and permissions `secinfo`
    /// (REG or TCS; a TCS must have no permissions and valid fields, see
    /// [`Tcs`](crate::Tcs)).
    pub fn eadd(
        &self,
        page: EpcPageId,
        secs_page: EpcPageId,
        linaddr: LinearAddress,
        secinfo: SecInfo,
        content: &[u8; 4096],
    ) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            let secs_slot = self.slot_of(secs_page, Operand::Secs)?;
            if !linaddr.is_page_aligned() {
                return Err(gp(GpCause::Misaligned));
            }
            if page == secs_page {
                return Err(gp(GpCause::SamePage));
            }
            let type_ok = match secinfo.page_type {
                PageType::Reg => true,
                PageType::Tcs => secinfo.perms == Perms::NONE,
                _ => false,
            };
            if !type_ok || secinfo.pending || secinfo.modified || secinfo.pr {
                return Err(gp(GpCause::InvalidSecInfo));
            }
            let _busy = slot.exclusive_for(Operand::Target)?;
            let _secs_busy = secs_slot.shared_for(Operand::Secs)?;
            if slot.epcm.page_type().is_some() {
                return Err(pf(Operand::Target, PfCause::AlreadyValid));
            }
            let control = self.secs_operand(secs_page)?;
            if control.is_initialized() {
                return Err(gp(GpCause::AlreadyInitialized));
            }
            if !control.contains(linaddr) {
                return Err(gp(GpCause::OutsideElrange));
            }
            if secinfo.page_type == PageType::Tcs && !tcs_content_valid(&control, content) {
                return Err(gp(GpCause::InvalidTcs));
            }
            // EADD reads the SECS and extends its measurement.
            self.consume(secs_slot, secs_page, Operand::Secs)?;
            slot.data().write_bytes(content);
            let mut e = slot.epcm.lock();
            *e = EpcmEntry {
                valid: true,
                secinfo,
                blocked: false,
                secs: Some(secs_page),
                linaddr,
                block_epoch: 0,
                modify_epoch: None,
            };
            control.children.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })();
        self.account(Event::Eadd, r)
    }

    /// EINIT: marks the enclave initialized, after which no page can be
    /// EADDed and threads can enter. (Measurement and launch control are out
    /// of the model's scope.)
    pub fn einit(&self, secs_page: EpcPageId) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(secs_page, Operand::Secs)?;
            let _busy = slot.exclusive_for(Operand::Secs)?;
            let control = self.secs_operand(secs_page)?;
            if control.is_initialized() {
                return Err(gp(GpCause::AlreadyInitialized));
            }
            self.consume(slot, secs_page, Operand::Secs)?;
            control.set_initialized(slot.data());
            Ok(())
        })();
        self.account(Event::Einit, r)
    }

    /// EPA: turns a free page into a Version Array of 512 empty slots.
    pub fn epa(&self, page: EpcPageId) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            let _busy = slot.exclusive_for(Operand::Target)?;
            let mut e = slot.epcm.lock();
            if e.valid {
                return Err(pf(Operand::Target, PfCause::AlreadyValid));
            }
            slot.data().zero();
            *e = EpcmEntry {
                valid: true,
                secinfo: SecInfo {
                    page_type: PageType::Va,
                    ..SecInfo::default()
                },
                ..EpcmEntry::FREE
            };
            e.secinfo.perms = Perms::NONE;
            Ok(())
        })();
        self.account(Event::Epa, r)
    }

    /// EREMOVE: returns a page to the free state. A free page stays free; a
    /// VA page is freed at once (its versions are lost); a SECS only without
    /// resident children (SGX_CHILD_PRESENT); an enclave page only while no
    /// logical processor is inside its enclave (SGX_ENCLAVE_ACT), except an
    /// accepted TRIM page (type TRIM, MODIFIED clear), which is freed at
    /// once even with threads inside: EACCEPT waited for the tracking cycle
    /// that flushed every translation to it, and no new one can be made to
    /// a TRIM page (SDM, `ENCLS[EREMOVE]`: "(EPCM.PT = PT_TRIM) AND
    /// (EPCM.MODIFIED = 0)" frees the page before the SGX_ENCLAVE_ACT
    /// check). A TRIM page not yet accepted is removed like a REG page.
    ///
    /// No thread can still run on an accepted TRIM page that was a TCS: the
    /// ETRACK cycle its EACCEPT waited for made every thread inside at the
    /// EMODT leave, and none can enter a TRIM page since.
    pub fn eremove(&self, page: EpcPageId) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            let _busy = slot.exclusive_for(Operand::Target)?;
            let entry = *slot.epcm.lock();
            if !entry.valid {
                return Ok(false);
            }
            if entry.secinfo.page_type == PageType::Trim && !entry.secinfo.modified {
                let secs_page = entry.secs.expect("child pages name their SECS");
                let control = self
                    .secs_control(secs_page)
                    .expect("a child page's SECS is resident");
                *slot.epcm.lock() = EpcmEntry::FREE;
                control.children.fetch_sub(1, Ordering::Relaxed);
                return Ok(true);
            }
            match entry.secinfo.page_type {
                PageType::Va => {
                    *slot.epcm.lock() = EpcmEntry::FREE;
                }
                PageType::Secs => {
                    let control = self
                        .secs_control(page)
                        .ok_or(pf(Operand::Target, PfCause::WrongType))?;
                    if control.children.load(Ordering::Acquire) != 0 {
                        return Err(SgxError::ChildPresent.into());
                    }
                    *slot.epcm.lock() = EpcmEntry::FREE;
                    self.enclaves.write().remove(&page);
                }
                PageType::Reg | PageType::Tcs | PageType::Trim => {
                    let secs_page = entry.secs.expect("child pages name their SECS");
                    let secs_slot = self.slot_of(secs_page, Operand::Secs)?;
                    let _secs_busy = secs_slot.shared_for(Operand::Secs)?;
                    let control = self.secs_operand(secs_page)?;
                    let tracking = control.tracking.lock();
                    if !tracking.inside().is_empty() {
                        return Err(SgxError::EnclaveAct.into());
                    }
                    *slot.epcm.lock() = EpcmEntry::FREE;
                    control.children.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Ok(false)
        })();
        match r {
            Ok(trim) => {
                self.ledger.charge(if trim {
                    Event::EremoveTrim
                } else {
                    Event::Eremove
                });
                Ok(())
            }
            Err(e) => self.account(Event::Eremove, Err(e)),
        }
    }

    /// The control block of a SECS operand, or #PF if the page is not a
    /// valid SECS.
    pub(crate) fn secs_operand(&self, secs_page: EpcPageId) -> LeafResult<SecsRef<'_>> {
        let slot = self.slot_of(secs_page, Operand::Secs)?;
        match slot.epcm.page_type() {
            None => return Err(pf(Operand::Secs, PfCause::NotValid)),
            Some(PageType::Secs) => {}
            Some(_) => return Err(pf(Operand::Secs, PfCause::WrongType)),
        }
        self.secs_ref(secs_page)
            .ok_or(pf(Operand::Secs, PfCause::WrongType))
    }
}

/// EADD's TCS checks: not busy, CSSA 0, at least one SSA frame, frames page
/// aligned and inside ELRANGE.
fn tcs_content_valid(control: &SecsControl, content: &[u8; 4096]) -> bool {
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&content[i * 8..i * 8 + 8]);
        u64::from_le_bytes(b)
    };
    let state = word(0);
    let ossa = word(2);
    let cssa = word(3) as u32;
    let nssa = (word(3) >> 32) as u32;
    let frames_end = ossa.checked_add(u64::from(nssa) * PAGE_SIZE);
    state == 0
        && cssa == 0
        && nssa > 0
        && ossa % PAGE_SIZE == 0
        && frames_end.is_some_and(|end| end <= control.size)
}
