//! The vEPC region: which host page backs each vEPC page (the EPT of the
//! model), host pages allocated at the guest's first use of a page or all
//! at start, never reclaimable on the host.
//!
//! The table is one atomic word per vEPC page, so the page walk reads it
//! without a lock; the handles of the host pages (the only way to free
//! them) sit beside it under a mutex taken to install or take them.

use crate::host::Host;
use epc_enclave::FrameError;
use epc_hw::EpcPageId;
use epc_mm::{AllocError, AllocMode, EpcPage, GroupId};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// No host page behind a vEPC page.
const NONE: u32 = u32::MAX;

/// How many times a first use retries a host allocation that found
/// nothing free while host reclaim runs (`AllocError::Busy`, ksgxd was
/// woken), like a fault returning `VM_FAULT_RETRY`, before it gives up
/// with SIGBUS.
pub const VEPC_BUSY_RETRIES: u32 = 200;

/// The pause between two of those retries.
pub const VEPC_RETRY_SLEEP: Duration = Duration::from_micros(250);

/// One VM's vEPC.
pub(crate) struct Region {
    pub(crate) name: String,
    pub(crate) host: Arc<Host>,
    pub(crate) epc_pages: u32,
    group: GroupId,
    node: epc_hw::NodeId,
    /// The host page behind each vEPC page, or `NONE`.
    slots: Box<[AtomicU32]>,
    /// The handles of the host pages, by vEPC page.
    pages: Mutex<Vec<Option<EpcPage>>>,
    held: AtomicUsize,
    peak: AtomicUsize,
    /// Why the VM failed, once it did.
    failed: OnceLock<String>,
    /// Released for good (the VM stopped): no page is backed again.
    released: AtomicBool,
    /// The host's power-cycle count at start.
    pub(crate) boot: u64,
}

impl Region {
    pub(crate) fn new(
        host: Arc<Host>,
        name: String,
        epc_pages: u32,
        group: GroupId,
        node: epc_hw::NodeId,
    ) -> Region {
        Region {
            boot: host.machine().power_cycles(),
            name,
            host,
            epc_pages,
            group,
            node,
            slots: (0..epc_pages).map(|_| AtomicU32::new(NONE)).collect(),
            pages: Mutex::new((0..epc_pages).map(|_| None).collect()),
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            failed: OnceLock::new(),
            released: AtomicBool::new(false),
        }
    }

    /// The host page behind vEPC page `page`, allocating it on first use.
    /// A first use the host cannot back fails the VM (SIGBUS).
    pub(crate) fn frame(&self, page: EpcPageId) -> Result<EpcPageId, FrameError> {
        let i = page.0 as usize;
        let slot = self.slots.get(i).ok_or(FrameError::Outside(page))?;
        if self.is_failed() {
            return Err(FrameError::Failed);
        }
        let v = slot.load(Ordering::Acquire);
        if v != NONE {
            return Ok(EpcPageId(v));
        }
        if self.released.load(Ordering::Acquire) {
            return Err(FrameError::Released);
        }
        let host_page = match self.alloc(page) {
            Ok(p) => p,
            Err(why) => {
                self.fail(why);
                self.host.cells.sigbus.fetch_add(1, Ordering::Relaxed);
                return Err(FrameError::Failed);
            }
        };
        let mut pages = self.pages.lock();
        if let Some(p) = &pages[i] {
            // Another leaf backed it meanwhile.
            let id = p.id();
            drop(pages);
            let _ = self.host.manager().free(host_page);
            return Ok(id);
        }
        let id = host_page.id();
        pages[i] = Some(host_page);
        slot.store(id.0, Ordering::Release);
        let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(held, Ordering::Relaxed);
        Ok(id)
    }

    /// A host page for vEPC page `page`, charged to the VM's group, never
    /// put on a reclaimable list. `Busy` (nothing free, ksgxd woken) is
    /// retried a bounded number of times; the error says why it failed.
    fn alloc(&self, page: EpcPageId) -> Result<EpcPage, String> {
        let mm = self.host.manager();
        let mut tries = 0;
        loop {
            match mm.alloc_in(self.group, self.node, AllocMode::NoReclaim) {
                Ok(p) => {
                    self.host.cells.vepc_faults.fetch_add(1, Ordering::Relaxed);
                    return Ok(p);
                }
                Err(AllocError::Busy) if tries < VEPC_BUSY_RETRIES => {
                    tries += 1;
                    self.host
                        .cells
                        .vepc_busy_retries
                        .fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(VEPC_RETRY_SLEEP);
                }
                Err(e) => {
                    return Err(format!(
                        "SIGBUS: no host EPC page for vEPC page {} of vm {} ({e}{})",
                        page.0,
                        self.name,
                        if tries > 0 {
                            format!(", after {tries} retries")
                        } else {
                            String::new()
                        }
                    ))
                }
            }
        }
    }

    /// For the page walk: the host page behind `page` now.
    #[inline]
    pub(crate) fn walk(&self, page: EpcPageId) -> Option<EpcPageId> {
        let v = self.slots.get(page.0 as usize)?.load(Ordering::Acquire);
        (v != NONE && !self.is_failed()).then_some(EpcPageId(v))
    }

    /// The vEPC page host page `host_page` backs, if this region holds it.
    pub(crate) fn find(&self, host_page: EpcPageId) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.load(Ordering::Acquire) == host_page.0)
            .map(|i| i as u32)
    }

    /// Fails the VM (the first reason stays).
    pub(crate) fn fail(&self, why: String) {
        if self.failed.set(why).is_ok() {
            self.host.cells.vms_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failed.get().is_some()
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    /// Takes every host page out of the table (the caller removes them).
    pub(crate) fn take_all(&self) -> Vec<(u32, EpcPage)> {
        let mut pages = self.pages.lock();
        let mut out = Vec::new();
        for (i, p) in pages.iter_mut().enumerate() {
            if let Some(p) = p.take() {
                self.slots[i].store(NONE, Ordering::Release);
                out.push((i as u32, p));
            }
        }
        self.held.store(0, Ordering::Relaxed);
        out
    }

    /// Marks the region released for good.
    pub(crate) fn release(&self) {
        self.released.store(true, Ordering::Release);
    }

    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Points vEPC page `page` at `host_page` (a test hook: the EPT entry
    /// of a malicious or buggy hypervisor). Returns the old entry.
    pub(crate) fn set_slot(
        &self,
        page: EpcPageId,
        host_page: Option<EpcPageId>,
    ) -> Option<EpcPageId> {
        let slot = self.slots.get(page.0 as usize)?;
        let old = slot.swap(host_page.map_or(NONE, |p| p.0), Ordering::AcqRel);
        (old != NONE).then_some(EpcPageId(old))
    }
}
