//! Memory failure: poisoned EPC pages and the machine check that reading
//! one raises.
//!
//! A page is poisoned by [`Machine::poison_page`], as the platform reports
//! an uncorrectable error in a DRAM frame (Linux learns of it through
//! `arch_memory_failure`). Poison belongs to the frame, not to the EPCM
//! entry: it survives EREMOVE and power cycles, so the OS must keep the page
//! out of use for good, as Linux's per-node poison list does.
//!
//! Which leaves consume poison (raise [`MachineCheck`]): those that *read* a
//! page's contents, at the point of the read, after every fault and error
//! check has passed, and before any state changes:
//!
//! | leaf | pages read | not read |
//! |---|---|---|
//! | EWB | the target (encrypted out), the VA page (slot swap), the SECS of a child (its EID goes into the MAC header) | — |
//! | ELDU, ELDB | the VA page (the version), the SECS named by PAGEINFO (EID) | the destination: written whole, never read |
//! | EADD | the SECS (ELRANGE, and MRENCLAVE is read-modify-written) | the destination: written whole |
//! | EAUG | the SECS | the target: zeroed |
//! | EACCEPTCOPY (ENCLU) | the source page | the destination: written whole |
//! | EINIT | the SECS | — |
//! | EREMOVE, EBLOCK, ETRACK, EPA, ECREATE, EMODPR, EMODT, EACCEPT, EMODPE | — | EPCM and tracking state only, or a whole-page write |
//!
//! So EWB of a poisoned page produces no sealed copy: the contents are lost,
//! and the OS must treat the enclave page as gone. EREMOVE of a poisoned
//! page works, so the OS can still return it (to the poison list). A page
//! loaded by ELDU into a poisoned frame becomes valid, and the first read
//! of it raises the machine check instead (writes of a whole page do not
//! consume poison on real memory either). An access from an enclave thread
//! that reads a poisoned page raises a machine check on that logical
//! processor rather than a page fault.

use crate::epc::Slot;
use crate::error::{LeafResult, MachineCheck, Operand};
use crate::ids::EpcPageId;
use crate::Machine;

impl Machine {
    /// Marks `page` poisoned (an uncorrectable memory error in its frame).
    /// `None` if it is not an EPC page; otherwise whether it was poisoned
    /// already. Poisoning changes no EPCM state: the page's owner learns of
    /// it at the next read (a machine check) or from the OS's memory-failure
    /// handler.
    pub fn poison_page(&self, page: EpcPageId) -> Option<bool> {
        self.epc.slot(page).map(|s| s.poison())
    }

    /// Whether `page` is poisoned (`false` for a page outside the EPC).
    pub fn is_poisoned(&self, page: EpcPageId) -> bool {
        self.epc.slot(page).is_some_and(|s| s.is_poisoned())
    }

    /// Every poisoned page, in page order.
    pub fn poisoned_pages(&self) -> Vec<EpcPageId> {
        self.epc
            .materialized()
            .filter(|(_, s)| s.is_poisoned())
            .map(|(id, _)| id)
            .collect()
    }

    /// A leaf reads `slot` (page `page`, operand `operand`): #MC if it is
    /// poisoned.
    #[inline]
    pub(crate) fn consume(
        &self,
        slot: Slot<'_>,
        page: EpcPageId,
        operand: Operand,
    ) -> LeafResult<()> {
        if slot.is_poisoned() {
            Err(MachineCheck { page, operand }.into())
        } else {
            Ok(())
        }
    }
}
