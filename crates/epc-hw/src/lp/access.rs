//! The accesses an enclave thread makes: word and page reads and writes,
//! each one an interval of the `busy` flag, and the AEX a faulting access
//! takes.

use super::ipi::ExitKind;
use super::state::{EXITING, INSIDE};
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
        self.access(addr, false, move |d| d.words[word].load(Ordering::Relaxed))
    }

    /// Writes the 64-bit word at `addr` (8-byte aligned).
    #[inline]
    pub fn write_u64(&mut self, addr: LinearAddress, value: u64) -> Result<(), LpError> {
        if addr.0 % 8 != 0 {
            return Err(LpError::Misaligned(addr));
        }
        let word = (addr.offset() / 8) as usize;
        self.access(addr, true, move |d| {
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

    /// One access: on a TLB hit, through the page reference the entry
    /// keeps (no chunk, slab or EPCM lookup; the poison flag is still read,
    /// since a poisoned frame machine-checks whatever the TLB says); on a
    /// miss, after a page walk. The hit path is inlined into the caller
    /// (callgrind: a call cost 19 of its 77 instructions in saving and
    /// restoring registers); the miss path is not.
    #[inline(always)]
    fn access<R>(
        &mut self,
        addr: LinearAddress,
        write: bool,
        f: impl FnOnce(&PageData) -> R,
    ) -> Result<R, LpError> {
        self.begin_access()?;
        if let Some((page, frame)) = self.tlb.hit(addr, write) {
            if frame.is_poisoned() {
                self.counters.poisoned_hits += 1;
                return Err(self.machine_check(addr, page));
            }
            let r = f(frame.data());
            // `end_access`, spelled out: `frame` borrows the TLB.
            self.shared.busy.store(false, Ordering::Release);
            self.counters.hits += 1;
            return Ok(r);
        }
        self.access_after_walk(addr, write, f)
    }

    /// An access that missed the TLB: the walk, then the access through
    /// the page's slot (a TLB of size 0 keeps nothing).
    #[inline(never)]
    fn access_after_walk<R>(
        &mut self,
        addr: LinearAddress,
        write: bool,
        f: impl FnOnce(&PageData) -> R,
    ) -> Result<R, LpError> {
        match self.walk(addr, write) {
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
                self.counters.walked += 1;
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

    /// Ends an access or ENCLU leaf that completed (lowers `busy`; the
    /// release makes the access happen before whatever an IPI sender that
    /// sees the flag low does next).
    #[inline]
    pub(super) fn end_access(&mut self) {
        self.shared.busy.store(false, Ordering::Release);
    }

    /// The AEX of an exception (#PF, #GP) raised inside the enclave by an
    /// access or an ENCLU leaf, taken by this LP itself while `busy`: no IPI
    /// sender claims an LP whose flag it sees raised, so the state is still
    /// `INSIDE` and this LP owns the exit.
    pub(super) fn exception_exit(&mut self) {
        self.shared.state.store(EXITING, Ordering::SeqCst);
        self.shared.busy.store(false, Ordering::Release);
        self.machine.finish_exit(&self.shared, ExitKind::Aex);
        self.become_interrupted();
    }

    /// Starts an access or ENCLU leaf (raises `busy`), or reports that the
    /// LP is not inside or an IPI has exited it.
    ///
    /// The raise is a plain store followed by a light barrier (a compiler
    /// fence): it pairs with the heavy, process-wide barrier an IPI sender
    /// issues between raising the exit request and reading `busy`, so that
    /// either this thread sees the request or the sender sees `busy` (the
    /// asymmetric Dekker handshake of the [module documentation](super)).
    ///
    /// The mode is looked at only when the state word is not `INSIDE`:
    /// only this thread moves the word to `INSIDE` (at EENTER and ERESUME,
    /// which then set the mode to inside), and it leaves the inside mode
    /// only after the word has left `INSIDE`, so reading `INSIDE` here
    /// proves the mode inside.
    #[inline(always)]
    pub(super) fn begin_access(&mut self) -> Result<(), LpError> {
        let shared = &self.shared;
        shared.busy.store(true, Ordering::Relaxed);
        self.light.fence();
        // One load reads the request and the state: anything but a plain
        // INSIDE (a request raised, or the exit claimed or done; acquire, to
        // see what the exit did) and the access does not start.
        if shared.state.load(Ordering::Acquire) != INSIDE {
            return Err(self.refuse_access());
        }
        Ok(())
    }

    /// The access (or leaf) cannot start: the LP is outside, interrupted,
    /// or an exit was requested or taken.
    #[cold]
    fn refuse_access(&mut self) -> LpError {
        match self.mode {
            Mode::Inside(_) => self.abandon_access(),
            Mode::Interrupted(_) => {
                self.shared.busy.store(false, Ordering::Release);
                LpError::Interrupted
            }
            Mode::Outside => {
                self.shared.busy.store(false, Ordering::Release);
                LpError::NotInEnclave
            }
        }
    }

    /// An exit was requested or taken before the access could start: the
    /// access does not happen. Whoever wins `INSIDE`→`EXITING` (this LP or
    /// the IPI sender) performs the AEX.
    fn abandon_access(&mut self) -> LpError {
        let shared = &self.shared;
        shared.busy.store(false, Ordering::Release);
        if shared.claim_exit_as_owner() {
            self.machine.finish_exit(&self.shared, ExitKind::Aex);
        }
        self.become_interrupted();
        LpError::Interrupted
    }

    /// The access read a poisoned page: an AEX, taken by this LP itself,
    /// reported as a machine check (a hit in the TLB does not help: the
    /// poison is in the memory).
    #[cold]
    fn machine_check(&mut self, addr: LinearAddress, epc_page: EpcPageId) -> LpError {
        self.exception_exit();
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
