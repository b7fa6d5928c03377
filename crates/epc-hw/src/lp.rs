//! Logical processors: ENCLU (EENTER, EEXIT, ERESUME), asynchronous exits,
//! and the accesses an enclave thread makes through its TLB.
//!
//! A [`LogicalProcessor`] is a value owned by one OS thread (`&mut self`
//! everywhere). What other threads must see of it lives in [`LpShared`]: its
//! state word, an exit-request flag that IPIs raise, a count of exits, and
//! the context an AEX needs.
//!
//! # The state word and the IPI handshake
//!
//! `OUTSIDE` → (EENTER/ERESUME) → `INSIDE` ⇄ `BUSY` (one access) →
//! `EXITING` (someone performs the exit) → `OUTSIDE`.
//!
//! An access moves `INSIDE` to `BUSY` with one compare-and-swap, then reads
//! the exit-request flag; an IPI sets the flag, then looks at the state. Both
//! sides use sequentially consistent operations, so at least one of them
//! sees the other: either the access notices the request and takes the AEX
//! itself, or the IPI sees `BUSY` and waits for this one access to end. An
//! LP that is `INSIDE` but idle between accesses, or whose thread is blocked
//! elsewhere, is exited by the IPI sender itself (it wins the
//! `INSIDE`→`EXITING` swap); an LP handling a fault is already `OUTSIDE`. So
//! an IPI waits at most for accesses already under way, and accesses never
//! wait on a lock the OS holds (see [`PageTable`]).

use crate::cost::Event;
use crate::encls::tcs::TcsView;
use crate::epc::PageData;
use crate::epcm::{PageType, Perms};
use crate::error::{GpCause, PageFaultInfo};
use crate::ids::{EpcPageId, LinearAddress, LpId, PAGE_SIZE};
use crate::page_table::PageTable;
use crate::secs::SecsControl;
use crate::tlb::{Tlb, Translation};
use crate::Machine;
use parking_lot::{Mutex, RwLock};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use thiserror::Error;

const OUTSIDE: u8 = 0;
const INSIDE: u8 = 1;
const BUSY: u8 = 2;
const EXITING: u8 = 3;

/// How an ENCLU leaf or an access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum LpError {
    /// A page fault. From an access, the LP has taken an AEX and must
    /// [`eresume`](LogicalProcessor::eresume) once the OS has fixed the
    /// page; from EENTER or ERESUME it is a fault outside enclave mode (the
    /// TCS or SSA page is not usable) and the leaf can be retried.
    #[error("{0}")]
    PageFault(PageFaultInfo),
    /// An IPI forced an AEX; resume with
    /// [`eresume`](LogicalProcessor::eresume).
    #[error("interrupted: an IPI forced an asynchronous exit")]
    Interrupted,
    /// EENTER or ERESUME raised #GP.
    #[error("#GP(0) on enclave entry: {0:?}")]
    GeneralProtection(GpCause),
    /// An access or EEXIT while the LP is not in enclave mode.
    #[error("the logical processor is not in an enclave")]
    NotInEnclave,
    /// EENTER while the LP is inside or has an interrupted context.
    #[error("the logical processor is already in an enclave or has one to resume")]
    AlreadyInEnclave,
    /// ERESUME with no interrupted context.
    #[error("the logical processor has no interrupted enclave context to resume")]
    NothingToResume,
    /// An access that is not naturally aligned (it could straddle pages).
    #[error("misaligned access at {0}")]
    Misaligned(LinearAddress),
    /// Every logical processor of the machine is taken.
    #[error("all {0} logical processors are in use")]
    NoFreeLp(u32),
}

/// What an AEX (by the LP itself or by an IPI sender) needs to know.
#[derive(Clone, Debug)]
struct InsideCtx {
    control: Arc<SecsControl>,
    tcs_page: EpcPageId,
}

/// The part of a logical processor that other threads see.
#[derive(Debug)]
pub(crate) struct LpShared {
    id: LpId,
    state: AtomicU8,
    exit_requested: AtomicBool,
    exits: AtomicU64,
    ctx: Mutex<Option<InsideCtx>>,
}

impl LpShared {
    pub(crate) fn state_now(&self) -> u8 {
        self.state.load(Ordering::SeqCst)
    }
}

/// The machine's logical processors, by id.
#[derive(Debug)]
pub(crate) struct LpRegistry {
    slots: RwLock<Vec<Option<Arc<LpShared>>>>,
}

impl LpRegistry {
    pub(crate) fn new(max: u32) -> LpRegistry {
        LpRegistry {
            slots: RwLock::new(vec![None; max as usize]),
        }
    }

    fn register(&self) -> Option<Arc<LpShared>> {
        let mut slots = self.slots.write();
        let i = slots.iter().position(Option::is_none)?;
        let shared = Arc::new(LpShared {
            id: LpId(i as u32),
            state: AtomicU8::new(OUTSIDE),
            exit_requested: AtomicBool::new(false),
            exits: AtomicU64::new(0),
            ctx: Mutex::new(None),
        });
        slots[i] = Some(shared.clone());
        Some(shared)
    }

    fn unregister(&self, id: LpId) {
        self.slots.write()[id.0 as usize] = None;
    }

    pub(crate) fn get(&self, id: LpId) -> Option<Arc<LpShared>> {
        self.slots.read().get(id.0 as usize).cloned().flatten()
    }

    /// Every registered LP: `(id, inside enclave mode, busy)`.
    pub(crate) fn states(&self) -> Vec<(LpId, u8)> {
        self.slots
            .read()
            .iter()
            .flatten()
            .map(|s| (s.id, s.state.load(Ordering::SeqCst)))
            .collect()
    }
}

pub(crate) fn state_is_inside(state: u8) -> bool {
    state == INSIDE || state == BUSY
}

/// The enclave context of an LP inside (or interrupted in) an enclave.
#[derive(Clone)]
struct Ctx {
    tcs: LinearAddress,
    secs_page: EpcPageId,
    page_table: Arc<dyn PageTable>,
}

enum Mode {
    Outside,
    Inside(Ctx),
    Interrupted(Ctx),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Enter,
    Resume,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExitKind {
    Eexit,
    Aex,
}

/// Per-LP access counters, kept by the owning thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LpStats {
    /// Accesses that completed.
    pub accesses: u64,
    /// Accesses served by the TLB.
    pub tlb_hits: u64,
    /// Page walks (TLB misses that passed or failed the checks).
    pub walks: u64,
}

/// A logical processor, owned by one OS thread.
pub struct LogicalProcessor {
    machine: Arc<Machine>,
    shared: Arc<LpShared>,
    tlb: Tlb,
    mode: Mode,
    stats: LpStats,
}

impl fmt::Debug for LogicalProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Outside => "outside".to_string(),
            Mode::Inside(c) => format!("inside at TCS {}", c.tcs),
            Mode::Interrupted(c) => format!("interrupted at TCS {}", c.tcs),
        };
        f.debug_struct("LogicalProcessor")
            .field("id", &self.shared.id)
            .field("mode", &mode)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Machine {
    /// A new logical processor for the calling thread, with the machine's
    /// TLB size.
    pub fn new_lp(self: &Arc<Self>) -> Result<LogicalProcessor, LpError> {
        let shared = self
            .lps
            .register()
            .ok_or(LpError::NoFreeLp(self.config.max_lps))?;
        Ok(LogicalProcessor {
            machine: self.clone(),
            shared,
            tlb: Tlb::new(self.config.tlb_entries),
            mode: Mode::Outside,
            stats: LpStats::default(),
        })
    }

    /// Sends an IPI to every logical processor inside the enclave whose SECS
    /// is `secs_page`, and returns once each has taken an AEX (or left on
    /// its own). Returns the number of LPs interrupted.
    pub fn ipi_enclave(&self, secs_page: EpcPageId) -> usize {
        let Some(control) = self.secs_control(secs_page) else {
            return 0;
        };
        let targets: Vec<LpId> = control.tracking.lock().inside().to_vec();
        let mut sent = 0;
        for id in targets {
            if let Some(lp) = self.lps.get(id) {
                self.interrupt(&lp);
                sent += 1;
            }
        }
        self.ledger.charge_n(Event::Ipi, sent as u64);
        sent
    }

    fn interrupt(&self, lp: &LpShared) {
        let exits_before = lp.exits.load(Ordering::SeqCst);
        lp.exit_requested.store(true, Ordering::SeqCst);
        let mut spins = 0u32;
        loop {
            if lp.exits.load(Ordering::SeqCst) != exits_before {
                return;
            }
            match lp.state.load(Ordering::SeqCst) {
                OUTSIDE => return,
                INSIDE => {
                    if lp
                        .state
                        .compare_exchange(INSIDE, EXITING, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        self.finish_exit(lp, ExitKind::Aex);
                        return;
                    }
                }
                _ => backoff(&mut spins),
            }
        }
    }

    /// Completes an exit the caller has claimed (state `EXITING`): TCS
    /// bookkeeping first, while the tracking still holds the TCS page
    /// resident, then the exit from tracking, then `OUTSIDE`.
    fn finish_exit(&self, lp: &LpShared, kind: ExitKind) {
        if let Some(ctx) = lp.ctx.lock().take() {
            if let Some(slot) = self.epc.slot(ctx.tcs_page) {
                let tcs = TcsView(slot.data());
                if kind == ExitKind::Aex {
                    tcs.set_cssa(tcs.cssa() + 1);
                }
                tcs.release();
            }
            ctx.control.tracking.lock().exit(lp.id);
        }
        lp.exit_requested.store(false, Ordering::SeqCst);
        lp.exits.fetch_add(1, Ordering::SeqCst);
        lp.state.store(OUTSIDE, Ordering::SeqCst);
        if kind == ExitKind::Aex {
            self.ledger.charge(Event::Aex);
        }
    }
}

fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

impl LogicalProcessor {
    /// This LP's id.
    pub fn id(&self) -> LpId {
        self.shared.id
    }

    /// Access counters.
    pub fn stats(&self) -> LpStats {
        self.stats
    }

    /// Whether the LP is in enclave mode (an IPI may have exited it since;
    /// the next access tells).
    pub fn is_inside(&self) -> bool {
        matches!(self.mode, Mode::Inside(_))
    }

    /// Whether the LP holds an interrupted context to resume.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.mode, Mode::Interrupted(_))
    }

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
        while self.shared.state.load(Ordering::SeqCst) != OUTSIDE {
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
        if self
            .shared
            .state
            .compare_exchange(INSIDE, EXITING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.note_async_exit();
            return Err(LpError::Interrupted);
        }
        self.machine.finish_exit(&self.shared, ExitKind::Eexit);
        self.machine.ledger.charge(Event::Eexit);
        self.tlb.flush();
        self.mode = Mode::Outside;
        Ok(())
    }

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
                let r = f(slot.data());
                self.shared.state.store(INSIDE, Ordering::Release);
                self.stats.accesses += 1;
                Ok(r)
            }
            Err(fault) => {
                // The access faults: an AEX, taken by this LP itself.
                self.shared.state.store(EXITING, Ordering::SeqCst);
                self.machine.finish_exit(&self.shared, ExitKind::Aex);
                self.machine.ledger.charge(Event::PageFault);
                self.become_interrupted();
                Err(LpError::PageFault(fault))
            }
        }
    }

    #[inline]
    fn begin_access(&mut self) -> Result<(), LpError> {
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

    /// An IPI sender took the AEX for this LP.
    fn note_async_exit(&mut self) {
        self.become_interrupted();
    }

    fn become_interrupted(&mut self) {
        self.tlb.flush();
        self.mode = match std::mem::replace(&mut self.mode, Mode::Outside) {
            Mode::Inside(c) | Mode::Interrupted(c) => Mode::Interrupted(c),
            Mode::Outside => Mode::Outside,
        };
    }

    #[inline]
    fn translate(&mut self, addr: LinearAddress, write: bool) -> Result<EpcPageId, PageFaultInfo> {
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

    fn enter(
        &mut self,
        tcs: LinearAddress,
        page_table: Arc<dyn PageTable>,
        entry: Entry,
    ) -> Result<(), LpError> {
        let fault = |page: LinearAddress, sgx: bool, epc_page: Option<EpcPageId>| {
            LpError::PageFault(PageFaultInfo {
                page,
                write: false,
                sgx,
                epc_page,
            })
        };
        let epc = &self.machine.epc;
        let pte = page_table.translate(tcs).ok_or(fault(tcs, false, None))?;
        let tcs_slot = epc
            .slot(pte.page)
            .ok_or(fault(tcs, false, Some(pte.page)))?;
        let tcs_entry = *tcs_slot.epcm.lock();
        let usable = |e: &crate::epcm::EpcmEntry, ty: PageType, at: LinearAddress| {
            e.valid && e.secinfo.page_type == ty && e.linaddr == at && !e.blocked
        };
        if !usable(&tcs_entry, PageType::Tcs, tcs) {
            return Err(fault(tcs, true, Some(pte.page)));
        }
        let secs_page = tcs_entry.secs.expect("a TCS names its SECS");
        let control =
            self.machine
                .secs_control(secs_page)
                .ok_or(fault(tcs, true, Some(pte.page)))?;
        if !control.is_initialized() {
            return Err(LpError::GeneralProtection(GpCause::NotInitialized));
        }

        // Under the tracking lock, so that no EBLOCK/ETRACK/EWB of the TCS or
        // SSA page can slip between these checks and the registration.
        let mut tracking = control.tracking.lock();
        if *tcs_slot.epcm.lock() != tcs_entry {
            return Err(fault(tcs, true, Some(pte.page)));
        }
        let view = TcsView(tcs_slot.data());
        let (cssa, nssa) = (view.cssa(), view.nssa());
        let frame = match entry {
            Entry::Enter if cssa < nssa => cssa,
            Entry::Resume if cssa > 0 => cssa - 1,
            _ => return Err(LpError::GeneralProtection(GpCause::SsaFrame)),
        };
        let ssa = control.base.add(view.ossa() + u64::from(frame) * PAGE_SIZE);
        let ssa_pte = page_table.translate(ssa).ok_or(fault(ssa, false, None))?;
        let ssa_ok = epc.slot(ssa_pte.page).is_some_and(|s| {
            let e = *s.epcm.lock();
            usable(&e, PageType::Reg, ssa)
                && e.secs == Some(secs_page)
                && e.secinfo.perms.contains(Perms::RW)
        });
        if !ssa_ok || !ssa_pte.writable {
            return Err(fault(ssa, true, Some(ssa_pte.page)));
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
        self.shared.exit_requested.store(false, Ordering::SeqCst);
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

impl Drop for LogicalProcessor {
    fn drop(&mut self) {
        if matches!(self.mode, Mode::Inside(_)) && self.eexit().is_err() {
            // Interrupted meanwhile: the exit is done or being done.
            let mut spins = 0;
            while self.shared.state.load(Ordering::SeqCst) != OUTSIDE {
                backoff(&mut spins);
            }
        }
        self.machine.lps.unregister(self.shared.id);
    }
}
