//! The address translation of an access: the TLB, then on a miss the page
//! walk and the EPCM checks.

use super::{LogicalProcessor, Mode};
use crate::epcm::{PageType, Perms};
use crate::error::PageFaultInfo;
use crate::ids::EpcPageId;
use crate::ids::LinearAddress;
use crate::tlb::Translation;

impl LogicalProcessor {
    #[inline]
    pub(super) fn translate(
        &mut self,
        addr: LinearAddress,
        write: bool,
    ) -> Result<EpcPageId, PageFaultInfo> {
        if let Some(t) = self.tlb.lookup(addr) {
            if !write || t.writable {
                self.stats.tlb_hits += 1;
                return Ok(t.page);
            }
        }
        self.stats.walks += 1;
        let Mode::Inside(ctx) = &self.mode else {
            unreachable!("accesses begin inside");
        };
        let page = addr.page();
        let fault = |sgx: bool, epc_page: Option<EpcPageId>| PageFaultInfo {
            page,
            write,
            sgx,
            epc_page,
        };
        let pte = ctx.page_table.translate(page).ok_or(fault(false, None))?;
        if write && !pte.writable {
            return Err(fault(false, Some(pte.page)));
        }
        let slot = self
            .machine
            .epc
            .slot(pte.page)
            .ok_or(fault(false, Some(pte.page)))?;
        let e = *slot.epcm.lock();
        let need = if write { Perms::W } else { Perms::R };
        let ok = e.valid
            && e.secinfo.page_type == PageType::Reg
            && !e.blocked
            && !e.secinfo.pending
            && !e.secinfo.modified
            && e.secs == Some(ctx.secs_page)
            && e.linaddr == page
            && e.secinfo.perms.contains(need);
        if !ok {
            return Err(fault(true, Some(pte.page)));
        }
        ctx.page_table.mark_accessed(page);
        let writable = pte.writable && e.secinfo.perms.contains(Perms::W);
        self.tlb.fill(
            addr,
            Translation {
                page: pte.page,
                writable,
            },
        );
        Ok(pte.page)
    }
}
