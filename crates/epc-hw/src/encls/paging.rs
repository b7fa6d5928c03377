//! EBLOCK, ETRACK, EWB, ELDU and ELDB: the leaves that evict and reload pages.

use crate::cost::Event;
use crate::crypto::MacHeader;
use crate::epcm::{EpcmEntry, PageType, SecInfo};
use crate::error::{gp, pf, Done, GpCause, LeafResult, Operand, PfCause, SgxError, SgxWarning};
use crate::ids::{EnclaveId, EpcPageId, LinearAddress, VaSlot, VA_SLOTS_PER_PAGE};
use crate::machine::SecsRef;
use crate::secs::SecsControl;
use crate::Machine;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Paging Crypto MetaData: what EWB writes beside the sealed page (SDM
/// §38.12). The OS may read it; any change makes ELDU fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pcmd {
    /// The page's SECINFO at eviction.
    pub secinfo: SecInfo,
    /// The owning enclave's EID (the SECS's own EID for a SECS, 0 for a VA
    /// page).
    pub enclave_id: EnclaveId,
    /// Reserved, zero.
    pub reserved: [u8; 40],
    /// The AES-GCM tag.
    pub mac: [u8; 16],
}

impl Default for Pcmd {
    fn default() -> Self {
        Pcmd {
            secinfo: SecInfo::default(),
            enclave_id: EnclaveId(0),
            reserved: [0; 40],
            mac: [0; 16],
        }
    }
}

/// An evicted page as the OS stores it: the encrypted contents and the PCMD.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPage {
    /// The 4 KiB ciphertext.
    pub ciphertext: Box<[u8; 4096]>,
    /// The metadata.
    pub pcmd: Pcmd,
}

impl SealedPage {
    /// An empty buffer for EWB to write into.
    pub fn new() -> SealedPage {
        SealedPage {
            ciphertext: Box::new([0u8; 4096]),
            pcmd: Pcmd::default(),
        }
    }
}

impl Default for SealedPage {
    fn default() -> Self {
        SealedPage::new()
    }
}

impl fmt::Debug for SealedPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedPage")
            .field("pcmd", &self.pcmd)
            .finish_non_exhaustive()
    }
}

/// Whether ELDB (load blocked) or ELDU (load unblocked).
#[derive(Clone, Copy, PartialEq, Eq)]
enum LoadKind {
    Unblocked,
    Blocked,
}

impl Machine {
    /// EBLOCK: marks an enclave page blocked, so that no new TLB translation
    /// to it can be created, and records the tracking epoch it was blocked
    /// in. Translations already cached stay usable until their logical
    /// processor leaves the enclave.
    ///
    /// Errors: SGX_EPC_PAGE_CONFLICT if a leaf is writing the page,
    /// SGX_PG_INVLD if it is not valid. Warnings (the leaf completes without
    /// change): SGX_PG_IS_SECS, SGX_NOTBLOCKABLE (VA), SGX_BLKSTATE (already
    /// blocked).
    pub fn eblock(&self, page: EpcPageId) -> LeafResult<Done<()>> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            let _busy = slot.try_shared().ok_or(SgxError::EpcPageConflict)?;
            // Only the type and the SECS are needed before the tracking
            // lock: both are stable while the page is held.
            let (page_type, secs) = slot.epcm.secs_while_held();
            match page_type {
                None => return Err(SgxError::PgInvld.into()),
                Some(PageType::Secs) => return Ok(Done::warn((), SgxWarning::PgIsSecs)),
                Some(PageType::Va) => return Ok(Done::warn((), SgxWarning::NotBlockable)),
                Some(PageType::Reg | PageType::Tcs | PageType::Trim) => {}
            }
            let secs_page = secs.expect("child pages name their SECS");
            let control = self
                .secs_ref(secs_page)
                .expect("a child page's SECS is resident");
            let tracking = control.tracking.lock();
            let mut e = slot.epcm.lock();
            if e.blocked {
                return Ok(Done::warn((), SgxWarning::BlkState));
            }
            e.blocked = true;
            e.block_epoch = tracking.epoch();
            Ok(Done::ok(()))
        })();
        self.account(Event::Eblock, r)
    }

    /// ETRACK: opens a tracking cycle on the enclave whose SECS is
    /// `secs_page`, snapshotting the logical processors inside. It completes
    /// when each of them has exited once. SGX_PREV_TRK_INCMPL while the
    /// previous cycle is open; #GP if another ETRACK on the same SECS is
    /// running.
    pub fn etrack(&self, secs_page: EpcPageId) -> LeafResult<()> {
        let r = (|| {
            let slot = self.slot_of(secs_page, Operand::Secs)?;
            let _busy = slot.shared_for(Operand::Secs)?;
            let control = self.secs_operand(secs_page)?;
            if control.etrack_running.swap(true, Ordering::Acquire) {
                return Err(gp(GpCause::Conflict(Operand::Secs)));
            }
            let r = control.tracking.lock().etrack();
            control.etrack_running.store(false, Ordering::Release);
            r.map_err(|_| SgxError::PrevTrkIncmpl.into())
        })();
        self.account(Event::Etrack, r)
    }

    /// EWB: evicts `page` into `out` (ciphertext and PCMD), writing a fresh
    /// version into `va_slot`, and invalidates the page. Returns the page's
    /// linear address (PAGEINFO.LINADDR on output).
    ///
    /// Enclave pages must be blocked (SGX_PAGE_NOT_BLOCKED) and tracked
    /// (SGX_NOT_TRACKED); a SECS must have no resident child
    /// (SGX_CHILD_PRESENT); a VA page needs neither. An occupied slot gives
    /// the SGX_VA_SLOT_OCCUPIED warning and the eviction still completes,
    /// losing the old version.
    pub fn ewb(
        &self,
        page: EpcPageId,
        va_slot: VaSlot,
        out: &mut SealedPage,
    ) -> LeafResult<Done<LinearAddress>> {
        let r = (|| {
            let slot = self.slot_of(page, Operand::Target)?;
            let va = self.slot_of(va_slot.page, Operand::VaSlot)?;
            if va_slot.slot >= VA_SLOTS_PER_PAGE {
                return Err(gp(GpCause::Misaligned));
            }
            if page == va_slot.page {
                return Err(gp(GpCause::SamePage));
            }
            let busy = slot.exclusive_for(Operand::Target)?;
            let _va_busy = va.shared_for(Operand::VaSlot)?;
            let entry = busy.entry();
            if !entry.valid {
                return Err(pf(Operand::Target, PfCause::NotValid));
            }
            check_va_page(va.epcm.page_type())?;

            // Per type: who owns the page, and whether it may leave.
            let mut owner: Option<(SecsRef<'_>, _)> = None;
            let (header_eid, pcmd_eid) = match entry.secinfo.page_type {
                PageType::Reg | PageType::Tcs | PageType::Trim => {
                    let secs_page = entry.secs.expect("child pages name their SECS");
                    let secs_slot = self.slot_of(secs_page, Operand::Secs)?;
                    let secs_busy = secs_slot.shared_for(Operand::Secs)?;
                    let control = self.secs_operand(secs_page)?;
                    if !entry.blocked {
                        return Err(SgxError::PageNotBlocked.into());
                    }
                    if !control.tracking.is_tracked(entry.block_epoch) {
                        return Err(SgxError::NotTracked.into());
                    }
                    // The SECS's EID goes into the MAC header.
                    self.consume(secs_slot, secs_page, Operand::Secs)?;
                    let eid = control.eid;
                    owner = Some((control, secs_busy));
                    (eid, eid)
                }
                PageType::Secs => {
                    let control = self
                        .secs_control(page)
                        .ok_or(pf(Operand::Target, PfCause::WrongType))?;
                    if control.children.load(Ordering::Acquire) != 0 {
                        return Err(SgxError::ChildPresent.into());
                    }
                    (EnclaveId(0), control.eid)
                }
                PageType::Va => (EnclaveId(0), EnclaveId(0)),
            };

            // The page is read to be encrypted and the slot is swapped: a
            // poisoned one stops the leaf here, with no sealed copy made.
            self.consume(slot, page, Operand::Target)?;
            self.consume(va, va_slot.page, Operand::VaSlot)?;

            // Seal. Nothing below can fail, so the state changes are final.
            let version = self.next_version.fetch_add(1, Ordering::Relaxed);
            out.pcmd = Pcmd {
                secinfo: entry.secinfo,
                enclave_id: pcmd_eid,
                reserved: [0; 40],
                mac: [0; 16],
            };
            let header = MacHeader {
                eid: header_eid,
                secinfo_flags: entry.secinfo.flags(),
                linaddr: entry.linaddr,
                pcmd_enclave_id: pcmd_eid,
                pcmd_reserved: [0; 40],
            };
            slot.data().read_bytes(&mut out.ciphertext);
            out.pcmd.mac = self.key.read().seal(version, &header, &mut out.ciphertext);
            let previous =
                va.data().words[usize::from(va_slot.slot)].swap(version, Ordering::AcqRel);

            slot.epcm.set(&EpcmEntry::FREE);
            match entry.secinfo.page_type {
                PageType::Secs => {
                    self.enclaves.write().remove(&page);
                }
                PageType::Va => {}
                _ => {
                    if let Some((control, _)) = &owner {
                        control.children.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            drop(owner);
            Ok(if previous != 0 {
                Done::warn(entry.linaddr, SgxWarning::VaSlotOccupied)
            } else {
                Done::ok(entry.linaddr)
            })
        })();
        self.account(Event::Ewb, r)
    }

    /// ELDU: loads a sealed page into the free page `page` at `linaddr`,
    /// unblocked. Enclave pages need `secs` naming their resident SECS; SECS
    /// and VA pages need `secs = None`. The version is read from `va_slot`,
    /// which is cleared on success, so the same blob can never load twice.
    /// Any change to the ciphertext, PCMD, address, enclave, slot or machine
    /// gives SGX_MAC_COMPARE_FAIL and changes nothing.
    pub fn eldu(
        &self,
        page: EpcPageId,
        linaddr: LinearAddress,
        sealed: &SealedPage,
        secs: Option<EpcPageId>,
        va_slot: VaSlot,
    ) -> LeafResult<()> {
        let r = self.load(page, linaddr, sealed, secs, va_slot, LoadKind::Unblocked);
        self.account(Event::Eldu, r)
    }

    /// ELDB: as [`eldu`](Machine::eldu), but an enclave page comes back
    /// blocked.
    pub fn eldb(
        &self,
        page: EpcPageId,
        linaddr: LinearAddress,
        sealed: &SealedPage,
        secs: Option<EpcPageId>,
        va_slot: VaSlot,
    ) -> LeafResult<()> {
        let r = self.load(page, linaddr, sealed, secs, va_slot, LoadKind::Blocked);
        self.account(Event::Eldb, r)
    }

    fn load(
        &self,
        page: EpcPageId,
        linaddr: LinearAddress,
        sealed: &SealedPage,
        secs: Option<EpcPageId>,
        va_slot: VaSlot,
        kind: LoadKind,
    ) -> LeafResult<()> {
        let slot = self.slot_of(page, Operand::Target)?;
        let va = self.slot_of(va_slot.page, Operand::VaSlot)?;
        let secs_slot = match secs {
            Some(s) => Some(self.slot_of(s, Operand::Secs)?),
            None => None,
        };
        if va_slot.slot >= VA_SLOTS_PER_PAGE || !linaddr.is_page_aligned() {
            return Err(gp(GpCause::Misaligned));
        }
        if page == va_slot.page || Some(page) == secs {
            return Err(gp(GpCause::SamePage));
        }
        let _busy = slot.exclusive_for(Operand::Target)?;
        let _va_busy = va.shared_for(Operand::VaSlot)?;
        let _secs_busy = match secs_slot {
            Some(s) => Some(s.shared_for(Operand::Secs)?),
            None => None,
        };
        if slot.epcm.page_type().is_some() {
            return Err(pf(Operand::Target, PfCause::AlreadyValid));
        }
        check_va_page(va.epcm.page_type())?;

        let secinfo = sealed.pcmd.secinfo;
        let control = match (secinfo.page_type.is_child(), secs) {
            (true, Some(s)) => Some(self.secs_operand(s)?),
            (false, None) => None,
            _ => return Err(gp(GpCause::InvalidSecsOperand)),
        };
        // The version is read from the VA page and the EID from the SECS;
        // the destination is only written, so its poison is not consumed.
        self.consume(va, va_slot.page, Operand::VaSlot)?;
        if let (Some(s), Some(secs_slot)) = (secs, secs_slot) {
            self.consume(secs_slot, s, Operand::Secs)?;
        }
        let header = MacHeader {
            eid: control.as_ref().map_or(EnclaveId(0), |c| c.eid),
            secinfo_flags: secinfo.flags(),
            linaddr,
            pcmd_enclave_id: sealed.pcmd.enclave_id,
            pcmd_reserved: sealed.pcmd.reserved,
        };
        let version_word = &va.data().words[usize::from(va_slot.slot)];
        let version = version_word.load(Ordering::Acquire);
        let mut plain = *sealed.ciphertext;
        if version == 0
            || !self
                .key
                .read()
                .open(version, &header, &sealed.pcmd.mac, &mut plain)
        {
            return Err(SgxError::MacCompareFail.into());
        }
        // The commit point: clear the slot. A concurrent load of the same
        // blob through another destination page loses here, as if it had
        // read the cleared slot.
        if version_word
            .compare_exchange(version, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return Err(SgxError::MacCompareFail.into());
        }
        slot.data().write_bytes(&plain);
        let blocked = kind == LoadKind::Blocked && secinfo.page_type.is_child();
        // A page loaded blocked never had a translation; recording the
        // current epoch asks for one more tracking cycle, the safe side.
        let block_epoch = match (&control, blocked) {
            (Some(c), true) => c.tracking.lock().epoch(),
            _ => 0,
        };
        slot.epcm.set(&EpcmEntry {
            valid: true,
            secinfo,
            blocked,
            secs,
            linaddr,
            block_epoch,
            // The page was free, so no TLB holds a translation to it: a
            // PR or MODIFIED state restored from PCMD needs no further
            // tracking before EACCEPT (the EWB that sealed it already
            // waited for the cycle that flushed every old translation).
            modify_epoch: None,
        });
        match secinfo.page_type {
            PageType::Secs => {
                let c = Arc::new(SecsControl::load(slot.data()));
                self.enclaves.write().insert(page, c);
            }
            PageType::Va => {}
            _ => {
                let c = control.expect("child pages have a SECS");
                c.children.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// The VA operand must be a valid PT_VA page, or #PF.
fn check_va_page(page_type: Option<PageType>) -> LeafResult<()> {
    match page_type {
        None => Err(pf(Operand::VaSlot, PfCause::NotValid)),
        Some(PageType::Va) => Ok(()),
        Some(_) => Err(pf(Operand::VaSlot, PfCause::WrongType)),
    }
}
