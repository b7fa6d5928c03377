//! The seam between a manager's page ids and the machine's pages.
//!
//! An EPC manager hands out page ids of its own layout. For the host's
//! manager those ids *are* machine pages: the manager owns a section of the
//! machine directly. A guest's manager (a virtual machine running its own
//! SGX driver, `epc-vm`) owns the pages of a virtual EPC: guest-physical
//! ids, each backed by a host page the host lends, which is what EPT does
//! in hardware. The enclave layer is the same code in both cases: every
//! ENCLS operand it hands the machine (the target page, the SECS, the VA
//! slot's page) goes through a [`Platform`], which is the identity for the
//! host (one branch, inlined) and a translation through [`Frames`] for a
//! guest.
//!
//! * **The leaves.** [`Platform`] has a method for each leaf the layer
//!   uses, with the machine's names and signatures (`ecreate`, `eadd`,
//!   `ewb`, ...). There is deliberately no `Deref` to [`Machine`]: a call
//!   site that bypassed the translation would not compile.
//! * **The 2-D walk.** A guest enclave's threads walk a composed page
//!   table ([`Platform::page_table`]): the enclave's own page table (guest
//!   linear to guest page), then [`Frames::walk`] (guest page to host
//!   page). A TLB hit needs neither.
//! * **Epochs.** [`Platform::epoch`] is the host's power-cycle count, or
//!   for a guest a number that changes whenever everything behind its
//!   frames is lost (host power cycle, VM reboot, stop or failure). An
//!   enclave captures it at creation; a different value later means its
//!   EPC is gone and it dies with `KillReason::EpcLost`.
//! * **Race-free release.** A guest leaf runs holding a pass of the
//!   frames' [`LeafGate`] (a shared lock); release closes the gate (taking
//!   it exclusively, so every leaf in flight has finished) before it
//!   EREMOVEs and gives back a single host page. After that, translation
//!   fails, so a stale guest object can never reach a host page that was
//!   given back and reused.

use crate::page_table::EnclavePageTable;
use epc_hw::{
    Done, EnclaveId, EnclaveInfo, EpcPageId, EpcmEntry, Fault, LeafError, LeafResult, Ledger,
    LinearAddress, LogicalProcessor, LpError, Machine, Operand, PageTable, PageType, Perms,
    PfCause, Pte, SealedPage, SecInfo, VaSlot,
};
use parking_lot::{RwLock, RwLockReadGuard};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// Why a guest page has no machine page behind it.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The page id is outside the region.
    #[error("page {0} is outside the region")]
    Outside(EpcPageId),
    /// The region was released (VM stopped or rebooted).
    #[error("the region was released")]
    Released,
    /// The region failed (SIGBUS: the host could not back a page, or a
    /// host page behind it was poisoned).
    #[error("the region failed")]
    Failed,
}

/// The machine pages behind a manager's page ids. The host's manager owns
/// machine pages directly (identity, no `Frames` at all); a guest's manager
/// owns vEPC pages, each backed by a host page the host lends (EPT in
/// hardware).
pub trait Frames: Send + Sync + 'static {
    /// The machine page behind `page`, allocating the host page on first
    /// use if the backing is on demand. Err: the page has no backing and
    /// none can be had (the VM got SIGBUS and failed), or is outside the
    /// region, or the region was released. [`Platform`] calls it holding a
    /// pass of [`gate`](Frames::gate).
    fn frame(&self, page: EpcPageId) -> Result<EpcPageId, FrameError>;
    /// For the page walk (never blocks, never allocates): the machine page
    /// behind `page` if it is backed now and the region is not released.
    fn walk(&self, page: EpcPageId) -> Option<EpcPageId>;
    /// A number that changes whenever everything behind these frames is
    /// lost (host power cycle, VM reboot, VM stop or failure).
    fn epoch(&self) -> u64;
    /// The gate every translated leaf holds a pass of while it runs;
    /// release closes it first.
    fn gate(&self) -> &LeafGate;
}

/// A shared/exclusive gate: translated leaves run holding a pass (shared),
/// [`close`](LeafGate::close) waits for them and refuses new ones.
#[derive(Debug, Default)]
pub struct LeafGate {
    lock: RwLock<()>,
    closed: AtomicBool,
}

/// A pass of a [`LeafGate`]: release cannot begin while it lives.
#[derive(Debug)]
pub struct LeafPass<'a>(#[allow(dead_code)] RwLockReadGuard<'a, ()>);

impl LeafGate {
    /// An open gate.
    pub fn new() -> LeafGate {
        LeafGate::default()
    }

    /// A pass, or `None` once the gate is closed. Never call it while
    /// holding a pass of the same gate (a waiting `close` would deadlock).
    #[inline]
    pub fn enter(&self) -> Option<LeafPass<'_>> {
        let guard = self.lock.read();
        (!self.closed.load(Ordering::Acquire)).then_some(LeafPass(guard))
    }

    /// Closes the gate: returns once every pass in flight was dropped; no
    /// new pass is given after that. Idempotent.
    pub fn close(&self) {
        let _exclusive = self.lock.write();
        self.closed.store(true, Ordering::Release);
    }

    /// Whether the gate is closed (for the page walk, which never blocks).
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// What enclaves run on: the machine, and how their manager's page ids
/// reach it. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    machine: Arc<Machine>,
    frames: Option<Arc<dyn Frames>>,
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Platform")
            .field("guest", &self.is_guest())
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

/// The leaf error of a guest operand that has no machine page: as if EPT
/// mapped it nowhere (the operand is not an EPC page).
#[inline]
fn untranslated(operand: Operand) -> LeafError {
    LeafError::Fault(Fault::PageFault {
        operand,
        cause: PfCause::NotEpc,
    })
}

impl Platform {
    /// The host: manager page ids are machine pages.
    pub fn host(machine: Arc<Machine>) -> Platform {
        Platform {
            machine,
            frames: None,
        }
    }

    /// A guest: manager page ids are translated through `frames`.
    pub fn guest(machine: Arc<Machine>, frames: Arc<dyn Frames>) -> Platform {
        Platform {
            machine,
            frames: Some(frames),
        }
    }

    /// The machine underneath (host and guest alike). Leaves must go
    /// through the platform's own methods, not through this.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// Whether this is a guest's platform.
    pub fn is_guest(&self) -> bool {
        self.frames.is_some()
    }

    /// Runs `leaf` on the machine with `t` translating each operand: the
    /// identity on the host; on a guest, through the frames, holding a
    /// gate pass for the whole leaf.
    #[inline]
    fn leaf<R>(
        &self,
        leaf: impl FnOnce(
            &Machine,
            &dyn Fn(EpcPageId, Operand) -> Result<EpcPageId, LeafError>,
        ) -> LeafResult<R>,
    ) -> LeafResult<R> {
        match &self.frames {
            None => leaf(&self.machine, &|p, _| Ok(p)),
            Some(frames) => {
                let _pass = frames.gate().enter().ok_or(untranslated(Operand::Target))?;
                leaf(&self.machine, &|p, op| {
                    frames.frame(p).map_err(|_| untranslated(op))
                })
            }
        }
    }

    /// The machine page behind `page` now, without allocating (for
    /// inspection: `epcm`, `enclave_info`, poisoning).
    #[inline]
    pub fn walk(&self, page: EpcPageId) -> Option<EpcPageId> {
        match &self.frames {
            None => Some(page),
            Some(frames) => frames.walk(page),
        }
    }

    /// The epoch: the host's power-cycle count, or the guest frames'
    /// epoch. A change means the EPC behind this platform was lost.
    #[inline]
    pub fn epoch(&self) -> u64 {
        match &self.frames {
            None => self.machine.power_cycles(),
            Some(frames) => frames.epoch(),
        }
    }

    /// The machine's power-cycle count.
    pub fn power_cycles(&self) -> u64 {
        self.machine.power_cycles()
    }

    /// The machine's cost ledger.
    pub fn ledger(&self) -> &Ledger {
        self.machine.ledger()
    }

    /// A new logical processor of the machine.
    pub fn new_lp(&self) -> Result<LogicalProcessor, LpError> {
        self.machine.new_lp()
    }

    /// The page table an enclave's threads walk: the enclave's own for the
    /// host; for a guest, that table composed with the frames (the 2-D
    /// walk).
    pub fn page_table(&self, pt: &Arc<EnclavePageTable>) -> Arc<dyn PageTable> {
        match &self.frames {
            None => pt.clone(),
            Some(frames) => Arc::new(GuestWalk {
                pt: pt.clone(),
                frames: frames.clone(),
            }),
        }
    }

    /// ECREATE.
    pub fn ecreate(
        &self,
        secs_page: EpcPageId,
        base: LinearAddress,
        size: u64,
    ) -> LeafResult<EnclaveId> {
        self.leaf(|m, t| m.ecreate(t(secs_page, Operand::Target)?, base, size))
    }

    /// EADD.
    pub fn eadd(
        &self,
        page: EpcPageId,
        secs_page: EpcPageId,
        linaddr: LinearAddress,
        secinfo: SecInfo,
        content: &[u8; 4096],
    ) -> LeafResult<()> {
        self.leaf(|m, t| {
            m.eadd(
                t(page, Operand::Target)?,
                t(secs_page, Operand::Secs)?,
                linaddr,
                secinfo,
                content,
            )
        })
    }

    /// EINIT.
    pub fn einit(&self, secs_page: EpcPageId) -> LeafResult<()> {
        self.leaf(|m, t| m.einit(t(secs_page, Operand::Target)?))
    }

    /// EPA.
    pub fn epa(&self, page: EpcPageId) -> LeafResult<()> {
        self.leaf(|m, t| m.epa(t(page, Operand::Target)?))
    }

    /// EREMOVE.
    pub fn eremove(&self, page: EpcPageId) -> LeafResult<()> {
        self.leaf(|m, t| m.eremove(t(page, Operand::Target)?))
    }

    /// EBLOCK.
    pub fn eblock(&self, page: EpcPageId) -> LeafResult<Done<()>> {
        self.leaf(|m, t| m.eblock(t(page, Operand::Target)?))
    }

    /// ETRACK.
    pub fn etrack(&self, secs_page: EpcPageId) -> LeafResult<()> {
        self.leaf(|m, t| m.etrack(t(secs_page, Operand::Target)?))
    }

    /// EWB.
    pub fn ewb(
        &self,
        page: EpcPageId,
        va_slot: VaSlot,
        out: &mut SealedPage,
    ) -> LeafResult<Done<LinearAddress>> {
        self.leaf(|m, t| {
            let va = VaSlot {
                page: t(va_slot.page, Operand::VaSlot)?,
                slot: va_slot.slot,
            };
            m.ewb(t(page, Operand::Target)?, va, out)
        })
    }

    /// ELDU.
    pub fn eldu(
        &self,
        page: EpcPageId,
        linaddr: LinearAddress,
        sealed: &SealedPage,
        secs: Option<EpcPageId>,
        va_slot: VaSlot,
    ) -> LeafResult<()> {
        self.leaf(|m, t| {
            let (page, secs, va) = load_operands(t, page, secs, va_slot)?;
            m.eldu(page, linaddr, sealed, secs, va)
        })
    }

    /// ELDB.
    pub fn eldb(
        &self,
        page: EpcPageId,
        linaddr: LinearAddress,
        sealed: &SealedPage,
        secs: Option<EpcPageId>,
        va_slot: VaSlot,
    ) -> LeafResult<()> {
        self.leaf(|m, t| {
            let (page, secs, va) = load_operands(t, page, secs, va_slot)?;
            m.eldb(page, linaddr, sealed, secs, va)
        })
    }

    /// EAUG (SGX2).
    pub fn eaug(
        &self,
        page: EpcPageId,
        secs_page: EpcPageId,
        linaddr: LinearAddress,
    ) -> LeafResult<()> {
        self.leaf(|m, t| {
            m.eaug(
                t(page, Operand::Target)?,
                t(secs_page, Operand::Secs)?,
                linaddr,
            )
        })
    }

    /// EMODPR (SGX2).
    pub fn emodpr(&self, page: EpcPageId, mask: Perms) -> LeafResult<()> {
        self.leaf(|m, t| m.emodpr(t(page, Operand::Target)?, mask))
    }

    /// EMODT (SGX2).
    pub fn emodt(&self, page: EpcPageId, to: PageType) -> LeafResult<()> {
        self.leaf(|m, t| m.emodt(t(page, Operand::Target)?, to))
    }

    /// The IPI to every logical processor inside the enclave of
    /// `secs_page`; 0 if the page has no machine page.
    pub fn ipi_enclave(&self, secs_page: EpcPageId) -> usize {
        self.leaf(|m, t| Ok(m.ipi_enclave(t(secs_page, Operand::Secs)?)))
            .unwrap_or(0)
    }

    /// The EPCM entry of `page` (model inspection), if it has a machine
    /// page now.
    pub fn epcm(&self, page: EpcPageId) -> Option<EpcmEntry> {
        self.machine.epcm(self.walk(page)?)
    }

    /// What the model knows of the enclave of `secs_page` (inspection).
    pub fn enclave_info(&self, secs_page: EpcPageId) -> Option<EnclaveInfo> {
        self.machine.enclave_info(self.walk(secs_page)?)
    }

    /// Poisons the machine page behind `page` (a memory failure); `None`
    /// if it has none.
    pub fn poison_page(&self, page: EpcPageId) -> Option<bool> {
        self.machine.poison_page(self.walk(page)?)
    }

    /// Whether the machine page behind `page` is poisoned.
    pub fn is_poisoned(&self, page: EpcPageId) -> bool {
        self.walk(page).is_some_and(|p| self.machine.is_poisoned(p))
    }
}

/// The translated operands of ELDU/ELDB.
#[inline]
fn load_operands(
    t: &dyn Fn(EpcPageId, Operand) -> Result<EpcPageId, LeafError>,
    page: EpcPageId,
    secs: Option<EpcPageId>,
    va_slot: VaSlot,
) -> Result<(EpcPageId, Option<EpcPageId>, VaSlot), LeafError> {
    let secs = match secs {
        Some(s) => Some(t(s, Operand::Secs)?),
        None => None,
    };
    let va = VaSlot {
        page: t(va_slot.page, Operand::VaSlot)?,
        slot: va_slot.slot,
    };
    Ok((t(page, Operand::Target)?, secs, va))
}

/// The 2-D walk of a guest enclave's thread: the guest page table, then
/// the frames (EPT). An entry whose guest page has no host page (released,
/// failed) is not present: the thread faults and its fault handler finds
/// the EPC lost.
struct GuestWalk {
    pt: Arc<EnclavePageTable>,
    frames: Arc<dyn Frames>,
}

impl PageTable for GuestWalk {
    fn translate(&self, page: LinearAddress) -> Option<Pte> {
        let pte = self.pt.translate(page)?;
        Some(Pte {
            page: self.frames.walk(pte.page)?,
            writable: pte.writable,
        })
    }

    fn mark_accessed(&self, page: LinearAddress) {
        self.pt.mark_accessed(page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use epc_hw::MachineConfig;
    use std::sync::atomic::AtomicU64;

    /// Guest page `i` is machine page `i + offset`, for `len` pages.
    struct Shifted {
        offset: u32,
        len: u32,
        gate: LeafGate,
        epoch: AtomicU64,
    }

    impl Frames for Shifted {
        fn frame(&self, page: EpcPageId) -> Result<EpcPageId, FrameError> {
            self.walk(page).ok_or(FrameError::Outside(page))
        }
        fn walk(&self, page: EpcPageId) -> Option<EpcPageId> {
            (page.0 < self.len).then(|| EpcPageId(page.0 + self.offset))
        }
        fn epoch(&self) -> u64 {
            self.epoch.load(Ordering::Relaxed)
        }
        fn gate(&self) -> &LeafGate {
            &self.gate
        }
    }

    #[test]
    fn guest_operands_are_translated_and_refused_once_the_gate_closes() {
        let machine = Machine::new(MachineConfig::with_pages(64)).unwrap();
        let frames = Arc::new(Shifted {
            offset: 32,
            len: 16,
            gate: LeafGate::new(),
            epoch: AtomicU64::new(5),
        });
        let guest = Platform::guest(machine.clone(), frames.clone());
        let host = Platform::host(machine.clone());
        assert!(guest.is_guest() && !host.is_guest());
        assert_eq!(guest.epoch(), 5);
        assert_eq!(host.epoch(), machine.power_cycles());
        // EPA of guest page 3 makes machine page 35 a VA page, not page 3.
        guest.epa(EpcPageId(3)).unwrap();
        assert!(machine.epcm(EpcPageId(35)).unwrap().valid);
        assert!(!machine.epcm(EpcPageId(3)).is_some_and(|e| e.valid));
        assert_eq!(guest.epcm(EpcPageId(3)), machine.epcm(EpcPageId(35)));
        // The host names machine pages directly.
        host.epa(EpcPageId(3)).unwrap();
        assert!(machine.epcm(EpcPageId(3)).unwrap().valid);
        // Outside the region: no machine page.
        let not_epc = Err(untranslated(Operand::Target));
        assert_eq!(guest.eremove(EpcPageId(16)), not_epc);
        assert_eq!(guest.walk(EpcPageId(16)), None);
        // Closed: every leaf refused, the machine untouched.
        frames.gate.close();
        assert!(frames.gate.is_closed() && frames.gate.enter().is_none());
        assert_eq!(guest.eremove(EpcPageId(3)), not_epc);
        assert!(machine.epcm(EpcPageId(35)).unwrap().valid);
        assert_eq!(guest.ipi_enclave(EpcPageId(3)), 0);
    }

    #[test]
    fn close_waits_for_the_leaves_in_flight() {
        let gate = Arc::new(LeafGate::new());
        let pass = gate.enter().unwrap();
        let closer = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.close())
        };
        // The closer cannot finish while the pass lives.
        for _ in 0..1000 {
            std::thread::yield_now();
        }
        assert!(!closer.is_finished());
        assert!(!gate.is_closed());
        drop(pass);
        closer.join().unwrap();
        assert!(gate.is_closed());
    }
}
