//! The enclave object: creation (ECREATE), adding pages (EADD), EINIT, and
//! what the rest of the crate shares: the lock, the page table, counters.
//!
//! # Locks
//!
//! One mutex per enclave guards what is enclave-wide ([`Inner`]: the SECS,
//! the TCS list, teardown's end; Linux's `encl->lock`). The page records
//! are in shards, each with its own lock (`shards.rs`), and the VA slots
//! behind a lock of their own. Lock order: the enclave lock, then one shard
//! lock, then the VA lock, then the manager's locks (unmark, free). The
//! common fault (the SECS resident, the page evicted) takes only its
//! page's shard lock, twice; the SECS handshake (`secs_gate.rs`) keeps the
//! SECS resident meanwhile. The manager never calls into an enclave while
//! holding a lock of its own, except `age`, which reads the page table's
//! atomics and takes no lock.
//!
//! Direct reclaim runs other enclaves' (and this one's) reclaim operations,
//! which take enclave and shard locks, so it must never run under either.
//! Every path that may reclaim needs the thread's `&mut ReclaimPermit`, and
//! [`Enclave::lock`] and [`Enclave::lock_page`] borrow that permit for as
//! long as the guard lives: the borrow checker refuses to reclaim while a
//! lock is held. Paths that run inside the reclaimer (the `PageOwner`
//! operations) have no permit and cannot reclaim.

use crate::counters::{Cells, EnclaveCounters};
use crate::error::{leaf, EnclaveError, KillReason};
use crate::page_table::EnclavePageTable;
use crate::platform::Platform;
use crate::secs_gate::SecsGate;
use crate::shards::{PageShards, Shard};
use crate::state::{Inner, PageRecord, Residency, SecsState, TcsInfo, BACKING_BYTES_PER_PAGE};
use crate::va::VaPages;
use epc_hw::{
    EnclaveId, EpcPageId, Fault, GpCause, LeafError, LinearAddress, Machine, NodeId, Perms,
    SecInfo, Tcs, PAGE_SIZE,
};
use epc_mm::{
    AllocError, AllocMode, EpcManager, EpcPage, GroupId, OwnerId, PageKey, PageOwner, ReclaimPermit,
};
use parking_lot::{Mutex, MutexGuard};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

/// Where an enclave lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnclaveConfig {
    /// ELRANGE base, aligned to `size`.
    pub base: LinearAddress,
    /// ELRANGE size: a power of two of at least two pages.
    pub size: u64,
    /// The NUMA node its pages are allocated from first.
    pub node: NodeId,
    /// The EPC group every page of the enclave (SECS, VA, TCS, SSA,
    /// regular) is charged to; the root by default.
    pub group: GroupId,
    /// An SGX2 (EDMM) enclave: once initialized, an access to an address
    /// of its range that has no page gets a fresh one (EAUG on fault),
    /// which the faulting thread accepts (EACCEPT). Off by default: an
    /// access to a page never added is then an access violation.
    pub dynamic: bool,
}

impl EnclaveConfig {
    /// The smallest valid range that holds `pages` pages, based at its own
    /// size (so ranges of different enclaves may coincide: each enclave has
    /// its own page table, as each process has its own address space).
    pub fn for_pages(pages: u64) -> EnclaveConfig {
        let size = (pages.max(2) * PAGE_SIZE).next_power_of_two();
        EnclaveConfig {
            base: LinearAddress(size),
            size,
            node: NodeId(0),
            group: GroupId::ROOT,
            dynamic: false,
        }
    }
}

/// An enclave: the EPC manager's owner of its pages.
pub struct Enclave {
    /// The machine and how the manager's page ids reach it; the field keeps
    /// its name so leaf call sites read `self.machine.ewb(..)`.
    pub(crate) machine: Platform,
    pub(crate) mm: Arc<EpcManager>,
    pub(crate) owner: OwnerId,
    pub(crate) eid: EnclaveId,
    pub(crate) config: EnclaveConfig,
    pub(crate) pt: Arc<EnclavePageTable>,
    pub(crate) inner: Mutex<Inner>,
    /// The page records, by page number.
    pub(crate) pages: PageShards,
    /// The VA pages and slots.
    pub(crate) va: Mutex<VaPages>,
    /// Children counted and the SECS as the fault fast path sees it.
    pub(crate) gate: SecsGate,
    /// Pages sealed in the backing store, the SECS included.
    pub(crate) evicted: AtomicUsize,
    /// Set (under the enclave lock) once teardown has started: loaders and
    /// writers then remove what they hold instead of keeping it, and the
    /// last page handed back finishes the job.
    pub(crate) tearing_down: AtomicBool,
    pub(crate) initialized: AtomicBool,
    pub(crate) dead: AtomicBool,
    pub(crate) death: OnceLock<KillReason>,
    /// The platform's epoch at creation (the machine's power-cycle count
    /// on the host): a different one now means the EPC was lost under the
    /// enclave.
    pub(crate) boot: u64,
    pub(crate) cells: Cells,
    pub(crate) weak: Weak<Enclave>,
}

/// A shard lock, held with the thread's reclaim permit borrowed.
pub(crate) struct PageLocked<'a> {
    guard: MutexGuard<'a, Shard>,
    _permit: &'a mut ReclaimPermit,
}

impl Deref for PageLocked<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl DerefMut for PageLocked<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

/// The enclave lock, held with the thread's reclaim permit borrowed.
pub(crate) struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    _permit: &'a mut ReclaimPermit,
}

impl Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Enclave {
    /// ECREATE: allocates the SECS (reclaiming if the EPC is full) and the
    /// first VA page, and creates the enclave.
    pub fn create(
        machine: Arc<Machine>,
        mm: Arc<EpcManager>,
        config: EnclaveConfig,
        permit: &mut ReclaimPermit,
    ) -> Result<Arc<Enclave>, EnclaveError> {
        Enclave::create_on(Platform::host(machine), mm, config, permit)
    }

    /// ECREATE on `platform`: the host's ([`Enclave::create`]) or a
    /// guest's, whose manager `mm` hands out guest page ids.
    pub fn create_on(
        machine: Platform,
        mm: Arc<EpcManager>,
        config: EnclaveConfig,
        permit: &mut ReclaimPermit,
    ) -> Result<Arc<Enclave>, EnclaveError> {
        let boot = machine.epoch();
        let secs = mm
            .alloc_in(config.group, config.node, AllocMode::Reclaim(permit))
            .map_err(|e| alloc_error(&mm, config.group, e))?;
        let eid = match machine.ecreate(secs.id(), config.base, config.size) {
            Ok(eid) => eid,
            Err(e) => {
                let _ = mm.free(secs);
                // A guest whose EPC went away under it.
                if machine.epoch() != boot {
                    return Err(EnclaveError::Killed(KillReason::EpcLost));
                }
                return Err(leaf("ECREATE")(e));
            }
        };
        let enclave = Arc::new_cyclic(|weak| Enclave {
            pt: Arc::new(EnclavePageTable::new(config.base, config.size)),
            gate: SecsGate::new(secs.id().0),
            inner: Mutex::new(Inner::new(secs)),
            pages: PageShards::default(),
            va: Mutex::new(VaPages::default()),
            evicted: AtomicUsize::new(0),
            tearing_down: AtomicBool::new(false),
            owner: OwnerId(eid.0),
            eid,
            config,
            initialized: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            death: OnceLock::new(),
            boot,
            cells: Cells::default(),
            weak: weak.clone(),
            machine,
            mm,
        });
        // The SECS reserves the first VA slot.
        enclave.grow(permit)?;
        Ok(enclave)
    }

    /// Reserves a VA slot for one more page, adding a VA page first when
    /// the last one is fully reserved.
    pub(crate) fn grow(&self, permit: &mut ReclaimPermit) -> Result<(), EnclaveError> {
        {
            let mut va = self.va.lock();
            if !va.needs_page() {
                va.reserve();
                return Ok(());
            }
        }
        let page = self.alloc_reclaiming(permit)?;
        if let Err(e) = self.machine.epa(page.id()) {
            let _ = self.mm.free(page);
            return Err(self.build_error("EPA", e));
        }
        let mut va = self.va.lock();
        if va.needs_page() {
            va.add_page(page);
        } else {
            // Another builder added one meanwhile.
            drop(va);
            let _ = self.machine.eremove(page.id());
            let _ = self.mm.free(page);
            va = self.va.lock();
        }
        va.reserve();
        Ok(())
    }

    /// EADD of one regular page with `perms` and `content`.
    pub fn add_page(
        &self,
        addr: LinearAddress,
        perms: Perms,
        content: &[u8; 4096],
        permit: &mut ReclaimPermit,
    ) -> Result<(), EnclaveError> {
        self.add(addr, SecInfo::reg(perms), content, permit)
    }

    /// Adds a thread control structure at `tcs` with `nssa` SSA frames at
    /// `ssa` (each a read-write regular page), for one enclave thread.
    pub fn add_tcs(
        &self,
        tcs: LinearAddress,
        ssa: LinearAddress,
        nssa: u32,
        permit: &mut ReclaimPermit,
    ) -> Result<(), EnclaveError> {
        if ssa.0 < self.config.base.0 || nssa == 0 {
            return Err(EnclaveError::Usage(format!(
                "SSA at {ssa} with {nssa} frames is not inside the enclave"
            )));
        }
        let page = Tcs {
            ossa: ssa.0 - self.config.base.0,
            nssa,
            oentry: 0,
        }
        .to_page();
        self.add(tcs, SecInfo::tcs(), &page, permit)?;
        for f in 0..u64::from(nssa) {
            self.add(
                ssa.add(f * PAGE_SIZE),
                SecInfo::reg(Perms::RW),
                &[0; 4096],
                permit,
            )?;
        }
        self.lock(permit).tcs.push(TcsInfo {
            addr: tcs,
            ssa,
            nssa,
            bound: false,
            retired: false,
        });
        Ok(())
    }

    fn add(
        &self,
        addr: LinearAddress,
        secinfo: SecInfo,
        content: &[u8; 4096],
        permit: &mut ReclaimPermit,
    ) -> Result<(), EnclaveError> {
        self.check_alive()?;
        if self.initialized.load(Ordering::Acquire) {
            return Err(EnclaveError::Usage("EADD after EINIT".into()));
        }
        if self.pages.contains(addr.page_number()) {
            return Err(EnclaveError::Usage(format!("page {addr} added twice")));
        }
        self.grow(permit)?;
        let page = match self.alloc_reclaiming(permit) {
            Ok(p) => p,
            Err(e) => {
                self.va.lock().unreserve();
                return Err(e);
            }
        };
        let inner = self.lock(permit);
        let secs = match &inner.secs {
            SecsState::Resident(s) => s.id(),
            _ => unreachable!("the SECS of an uninitialized enclave is never evicted"),
        };
        if let Err(e) = self.machine.eadd(page.id(), secs, addr, secinfo, content) {
            self.va.lock().unreserve();
            drop(inner);
            let _ = self.mm.free(page);
            return Err(self.build_error("EADD", e));
        }
        let writable = secinfo.perms.contains(Perms::W);
        self.gate.add_child();
        // Listed under the shard lock, so that the reclaimer, which may
        // pick the page at once, finds its record.
        let mut shard = self.pages.lock(addr.page_number());
        self.pt.map(addr, page.id(), writable);
        let listed = self.mark(&page, addr);
        shard.insert(
            addr.page_number(),
            PageRecord {
                secinfo,
                pins: 0,
                residency: Residency::Resident { page, listed },
            },
        );
        Ok(())
    }

    /// The error of a failed build leaf: the EPC's loss if it was lost
    /// under the enclave (a guest whose VM failed, stopped or rebooted; a
    /// power cycle), which kills it; else the leaf's error. Called with no
    /// enclave lock held.
    fn build_error(&self, name: &'static str, e: LeafError) -> EnclaveError {
        if self.notice_epc_loss() {
            return EnclaveError::Killed(KillReason::EpcLost);
        }
        leaf(name)(e)
    }

    /// Allocates a page, reclaiming directly if need be, retrying while
    /// other reclaimers hold every victim (the manager's `Busy`).
    pub(crate) fn alloc_reclaiming(
        &self,
        permit: &mut ReclaimPermit,
    ) -> Result<EpcPage, EnclaveError> {
        loop {
            let (group, node) = (self.config.group, self.config.node);
            match self.mm.alloc_in(group, node, AllocMode::Reclaim(permit)) {
                Ok(page) => return Ok(page),
                Err(AllocError::Busy) => std::thread::yield_now(),
                // A guest whose VM stopped or rebooted (its manager shut
                // down): the EPC's loss, not an allocation failure.
                Err(_) if self.notice_epc_loss() => {
                    return Err(EnclaveError::Killed(KillReason::EpcLost))
                }
                Err(e) => return Err(alloc_error(&self.mm, group, e)),
            }
        }
    }

    /// Puts a resident page on the manager's list; whether it got there.
    pub(crate) fn mark(&self, page: &EpcPage, addr: LinearAddress) -> bool {
        // A memory failure took it off the list for good.
        if self.mm.is_poisoned(page.id()) {
            return false;
        }
        let owner: Weak<dyn PageOwner> = self.weak.clone();
        let r = self.mm.mark_reclaimable(page, self.key(addr), owner);
        // A refusal would leave the page off the list for good.
        debug_assert!(r.is_ok(), "marking {addr} reclaimable: {r:?}");
        r.is_ok()
    }

    /// EINIT. From here threads may enter and pages cannot be added.
    pub fn init(&self) -> Result<(), EnclaveError> {
        self.check_alive()?;
        let inner = self.inner.lock();
        let SecsState::Resident(secs) = &inner.secs else {
            unreachable!("the SECS of an uninitialized enclave is never evicted");
        };
        // EINIT takes the SECS exclusively; a reclaimer's EWB or ETRACK of
        // this enclave (run without the enclave lock) holds it shared for a
        // moment, which the processor reports as #GP. Retry until it is free.
        let mut spins = 0u32;
        loop {
            match self.machine.einit(secs.id()) {
                Ok(()) => break,
                Err(LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(_))))
                    if spins < 1_000_000 =>
                {
                    spins += 1;
                    std::thread::yield_now();
                }
                Err(e) => return Err(leaf("EINIT")(e)),
            }
        }
        self.initialized.store(true, Ordering::Release);
        Ok(())
    }

    /// Takes the enclave lock, borrowing the thread's reclaim permit so that
    /// nothing can reclaim while the lock is held.
    pub(crate) fn lock<'a>(&'a self, permit: &'a mut ReclaimPermit) -> Locked<'a> {
        Locked {
            guard: self.inner.lock(),
            _permit: permit,
        }
    }

    /// Takes the shard lock of page number `n`, borrowing the thread's
    /// reclaim permit as [`lock`](Self::lock) does.
    pub(crate) fn lock_page<'a>(&'a self, n: u64, permit: &'a mut ReclaimPermit) -> PageLocked<'a> {
        PageLocked {
            guard: self.pages.lock(n),
            _permit: permit,
        }
    }

    /// Bytes the backing store holds.
    pub(crate) fn backing(&self) -> u64 {
        self.evicted.load(Ordering::SeqCst) as u64 * BACKING_BYTES_PER_PAGE
    }

    /// The manager's name for the page at `addr`.
    pub(crate) fn key(&self, addr: LinearAddress) -> PageKey {
        PageKey::new(self.owner, addr.page().0)
    }

    pub(crate) fn check_alive(&self) -> Result<(), EnclaveError> {
        if self.dead.load(Ordering::Acquire) {
            let reason = self.death.get().cloned().unwrap_or(KillReason::Destroyed);
            return Err(EnclaveError::Killed(reason));
        }
        Ok(())
    }

    /// The enclave id (also the owner id in the manager).
    pub fn eid(&self) -> EnclaveId {
        self.eid
    }

    /// The manager's owner id of this enclave's pages.
    pub fn owner_id(&self) -> OwnerId {
        self.owner
    }

    /// The range and node.
    pub fn config(&self) -> EnclaveConfig {
        self.config
    }

    /// The machine it runs on.
    pub fn machine(&self) -> &Arc<Machine> {
        self.machine.machine()
    }

    /// The platform it runs on (host or guest).
    pub fn platform(&self) -> &Platform {
        &self.machine
    }

    /// The manager its pages come from.
    pub fn manager(&self) -> &Arc<EpcManager> {
        &self.mm
    }

    /// The page table (for walks and tests).
    pub fn page_table(&self) -> &Arc<EnclavePageTable> {
        &self.pt
    }

    /// Whether EINIT has run.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// Why the enclave died, if it did.
    pub fn killed(&self) -> Option<KillReason> {
        self.dead
            .load(Ordering::Acquire)
            .then(|| self.death.get().cloned().unwrap_or(KillReason::Destroyed))
    }

    /// The enclave's counters.
    pub fn counters(&self) -> EnclaveCounters {
        self.cells.snapshot()
    }

    /// Sets the counters back to zero.
    pub fn reset_counters(&self) {
        self.cells.reset();
    }

    /// A picture of where the enclave's pages are.
    pub fn usage(&self) -> EnclaveUsage {
        let inner = self.inner.lock();
        let (va_pages, va_slots_used) = {
            let va = self.va.lock();
            (va.len(), va.used())
        };
        let mut u = EnclaveUsage {
            va_pages,
            va_slots_used,
            backing_bytes: self.backing(),
            secs_resident: matches!(inner.secs, SecsState::Resident(_)),
            ..EnclaveUsage::default()
        };
        self.pages.for_each(|_, r| {
            u.pages += 1;
            match r.residency {
                Residency::Resident { .. } => u.resident += 1,
                Residency::Reclaiming { .. } | Residency::Loading => u.reclaiming += 1,
                Residency::Evicted { .. } => u.evicted += 1,
            }
        });
        u
    }

    /// The SECS's EPC page, if resident.
    pub fn secs_page(&self) -> Option<EpcPageId> {
        match &self.inner.lock().secs {
            SecsState::Resident(p) => Some(p.id()),
            _ => None,
        }
    }
}

/// Where an enclave's pages are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnclaveUsage {
    /// Enclave pages (REG, TCS) added.
    pub pages: usize,
    /// Of which in the EPC.
    pub resident: usize,
    /// Of which being written back by the reclaimer or reloaded.
    pub reclaiming: usize,
    /// Of which sealed in the backing store.
    pub evicted: usize,
    /// Whether the SECS is in the EPC.
    pub secs_resident: bool,
    /// VA pages.
    pub va_pages: usize,
    /// VA slots holding a version.
    pub va_slots_used: usize,
    /// Bytes of sealed pages and PCMD in the backing store.
    pub backing_bytes: u64,
}

impl fmt::Debug for Enclave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enclave")
            .field("eid", &self.eid)
            .field("config", &self.config)
            .field("initialized", &self.is_initialized())
            .field("killed", &self.killed())
            .finish_non_exhaustive()
    }
}

/// An allocation failure as the enclave reports it: "no memory" in a group
/// at its limit (its own or an ancestor's) names the group and the limit;
/// anything else is [`EnclaveError::Alloc`]. Nothing is killed either way.
fn alloc_error(mm: &EpcManager, group: GroupId, e: AllocError) -> EnclaveError {
    if e != AllocError::NoMemory {
        return e.into();
    }
    let mut at = Some(group);
    while let Some(g) = at.filter(|&g| g != GroupId::ROOT) {
        let Ok(stats) = mm.group_stats(g) else { break };
        if let Some(max) = stats.max.filter(|&max| stats.current >= max) {
            return EnclaveError::GroupLimit {
                group: stats.path,
                max,
            };
        }
        at = stats.parent;
    }
    e.into()
}
