//! The address translation of an access: the TLB, then on a miss the page
//! walk and the EPCM checks.

use super::{LogicalProcessor, Mode};
use crate::epcm::{EpcmEntry, PageType, Perms};
use crate::error::{FaultCause, PageFaultInfo};
use crate::ids::EpcPageId;
use crate::ids::LinearAddress;
use crate::tlb::Translation;

/// The EPCM checks a page walk (and EENTER, ERESUME and the SGX2 ENCLU
/// leaves on their operands) makes before using a page, in the order of the
/// SDM's EENTER pseudocode: VALID, BLOCKED, PENDING or MODIFIED, then type
/// and ENCLAVEADDRESS, then ENCLAVESECS (`secs`, unless `None`), then the
/// permissions `need`. The first one failing is the cause of the #PF (with
/// the SGX bit set).
pub(crate) fn epcm_check(
    e: &EpcmEntry,
    ty: PageType,
    at: LinearAddress,
    secs: Option<EpcPageId>,
    need: Perms,
) -> Result<(), FaultCause> {
    let cause = if !e.valid {
        FaultCause::EpcmInvalid
    } else if e.blocked {
        FaultCause::Blocked
    } else if e.secinfo.pending {
        FaultCause::Pending
    } else if e.secinfo.modified {
        FaultCause::Modified
    } else if e.secinfo.page_type != ty {
        FaultCause::WrongType
    } else if e.linaddr != at || secs.is_some_and(|s| e.secs != Some(s)) {
        FaultCause::WrongOwner
    } else if !e.secinfo.perms.contains(need) {
        FaultCause::Permission
    } else {
        return Ok(());
    };
    Err(cause)
}

impl LogicalProcessor {
    /// The page walk of an access that missed the TLB (or hit an entry
    /// that does not allow a write): the page table, then the EPCM checks,
    /// then a TLB fill.
    pub(super) fn walk(
        &mut self,
        addr: LinearAddress,
        write: bool,
    ) -> Result<EpcPageId, PageFaultInfo> {
        self.counters.walks += 1;
        let Mode::Inside(ctx) = &self.mode else {
            unreachable!("accesses begin inside");
        };
        let page = addr.page();
        let fault = |cause: FaultCause, epc_page: Option<EpcPageId>| {
            PageFaultInfo::new(page, write, cause, epc_page)
        };
        let pte = ctx
            .page_table
            .translate(page)
            .ok_or(fault(FaultCause::NotPresent, None))?;
        if write && !pte.writable {
            return Err(fault(FaultCause::PteReadOnly, Some(pte.page)));
        }
        let epc = &self.machine.epc;
        let slot = epc
            .slot(pte.page)
            .ok_or(fault(FaultCause::NotEpc, Some(pte.page)))?;
        let e = *slot.epcm.lock();
        let need = if write { Perms::W } else { Perms::R };
        epcm_check(&e, PageType::Reg, page, Some(ctx.secs_page), need)
            .map_err(|cause| fault(cause, Some(pte.page)))?;
        ctx.page_table.mark_accessed(page);
        let writable = pte.writable && e.secinfo.perms.contains(Perms::W);
        self.tlb.fill(
            addr,
            Translation {
                page: pte.page,
                writable,
            },
            || epc.page_ref(pte.page),
        );
        Ok(pte.page)
    }
}
