//! The accesses an enclave thread makes: word and page reads and writes,
//! each one a `BUSY` interval of the state word, and the AEX a faulting
//! access takes.

use super::ipi::ExitKind;
use super::state::{BUSY, EXITING, INSIDE};
use super::{LogicalProcessor, LpError, Mode};
use crate::cost::Event;
use crate::epc::PageData;
use crate::ids::{EpcPageId, LinearAddress};
use std::sync::atomic::Ordering;

impl LogicalProcessor {
    /// Reads the 64-bit word at `addr` (8-byte aligned).
    #[inline]
    pub fn read_u64(&mut self, addr: LinearAddress) -> Result<u64, LpError> {
        if addr.0 % 8 != 0 {
            return Err(LpError::Misaligned(addr));
        }
        let word = (addr.offset() / 8) as usize;
        self.access(addr, false, |d| d.words[word].load(Ordering::Relaxed))
    }

    /// Writes the 64-bit word at `addr` (8-byte aligned).
    #[inline]
    pub fn write_u64(&mut self, addr: LinearAddress, value: u64) -> Result<(), LpError> {
        if addr.0 % 8 != 0 {
            return Err(LpError::Misaligned(addr));
        }
        let word = (addr.offset() / 8) as usize;
        self.access(addr, true, |d| {
            d.words[word].store(value, Ordering::Relaxed)
        })
    }

    /// Reads the whole page at `addr` (page aligned).
    pub fn read_page(&mut self, addr: LinearAddress, out: &mut [u8; 4096]) -> Result<(), LpError> {
        if !addr.is_page_aligned() {
            return Err(LpError::Misaligned(addr));
        }
        self.access(addr, false, |d| d.read_bytes(out))
    }

    /// Overwrites the whole page at `addr` (page aligned).
    pub fn write_page(&mut self, addr: LinearAddress, bytes: &[u8; 4096]) -> Result<(), LpError> {
        if !addr.is_page_aligned() {
            return Err(LpError::Misaligned(addr));
        }
        self.access(addr, true, |d| d.write_bytes(bytes))
    }

    #[inline]
    fn access<R>(
        &mut self,
        addr: LinearAddress,
        write: bool,
        f: impl FnOnce(&PageData) -> R,
    ) -> Result<R, LpError> {
        self.begin_access()?;
        match self.translate(addr, write) {
            Ok(page) => {
                let slot = self
                    .machine
                    .epc
                    .slot(page)
                    .expect("translations name EPC pages");
                if slot.is_poisoned() {
                    return Err(self.machine_check(addr, page));
                }
                let r = f(slot.data());
                self.end_access();
                self.stats.accesses += 1;
                Ok(r)
            }
            Err(fault) => {
                // The access faults: an AEX, taken by this LP itself.
                self.exception_exit();
                self.machine.ledger.charge(Event::PageFault);
                Err(LpError::PageFault(fault))
            }
        }
    }

    /// Ends an access or ENCLU leaf that completed (`BUSY` to `INSIDE`).
    #[inline]
    pub(super) fn end_access(&mut self) {
        self.shared.state.store(INSIDE, Ordering::Release);
    }

    /// The AEX of an exception (#PF, #GP) raised inside the enclave by an
    /// access or an ENCLU leaf, taken by this LP itself from `BUSY`.
    pub(super) fn exception_exit(&mut self) {
        self.shared.state.store(EXITING, Ordering::SeqCst);
        self.machine.finish_exit(&self.shared, ExitKind::Aex);
        self.become_interrupted();
    }

    /// Starts an access or ENCLU leaf (`INSIDE` to `BUSY`), or reports that
    /// the LP is not inside or an IPI has exited it.
    #[inline]
    pub(super) fn begin_access(&mut self) -> Result<(), LpError> {
        match self.mode {
            Mode::Inside(_) => {}
            Mode::Interrupted(_) => return Err(LpError::Interrupted),
            Mode::Outside => return Err(LpError::NotInEnclave),
        }
        if self
            .shared
            .state
            .compare_exchange(INSIDE, BUSY, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            self.note_async_exit();
            return Err(LpError::Interrupted);
        }
        if self.shared.exit_requested.load(Ordering::SeqCst) {
            self.shared.state.store(EXITING, Ordering::SeqCst);
            self.machine.finish_exit(&self.shared, ExitKind::Aex);
            self.become_interrupted();
            return Err(LpError::Interrupted);
        }
        Ok(())
    }

    /// The access read a poisoned page: an AEX, taken by this LP itself,
    /// reported as a machine check (a hit in the TLB does not help: the
    /// poison is in the memory).
    #[cold]
    fn machine_check(&mut self, addr: LinearAddress, epc_page: EpcPageId) -> LpError {
        self.shared.state.store(EXITING, Ordering::SeqCst);
        self.machine.finish_exit(&self.shared, ExitKind::Aex);
        self.become_interrupted();
        LpError::MachineCheck {
            addr: addr.page(),
            epc_page,
        }
    }

    /// An IPI sender took the AEX for this LP.
    pub(super) fn note_async_exit(&mut self) {
        self.become_interrupted();
    }

    pub(super) fn become_interrupted(&mut self) {
        self.tlb.flush();
        self.mode = match std::mem::replace(&mut self.mode, Mode::Outside) {
            Mode::Inside(c) | Mode::Interrupted(c) => Mode::Interrupted(c),
            Mode::Outside => Mode::Outside,
        };
    }
}
