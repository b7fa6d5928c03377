//! The host side (Linux's `virt.c`): the host's machine and manager, the
//! VMs it runs, and the zombie list shared by all of them.

use crate::region::Region;
use epc_hw::{EpcPageId, LeafError, Machine, PageType};
use epc_mm::{EpcManager, EpcPage};
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// The host: its machine and EPC manager, the live VMs, and the pages
/// whose EREMOVE failed at a release (Linux's `zombie_secs_pages`),
/// retried at every later release.
pub struct Host {
    machine: Arc<Machine>,
    mm: Arc<EpcManager>,
    vms: Mutex<Vec<Weak<Region>>>,
    zombies: Mutex<Vec<Zombie>>,
    pub(crate) cells: Cells,
}

/// A page a release could not remove.
struct Zombie {
    page: EpcPage,
    vm: String,
}

/// The host's counters of its VMs.
#[derive(Default)]
pub(crate) struct Cells {
    pub(crate) vepc_faults: AtomicU64,
    pub(crate) vepc_busy_retries: AtomicU64,
    pub(crate) sigbus: AtomicU64,
    pub(crate) vms_started: AtomicU64,
    pub(crate) vms_failed: AtomicU64,
    pub(crate) releases: AtomicU64,
    pub(crate) eremove_first_pass: AtomicU64,
    pub(crate) eremove_second_pass: AtomicU64,
    pub(crate) child_present: AtomicU64,
    pub(crate) enclave_act: AtomicU64,
    pub(crate) zombies_added: AtomicU64,
    pub(crate) zombies_retried: AtomicU64,
    pub(crate) zombies_freed: AtomicU64,
}

/// A snapshot of the host's VM counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostVmCounters {
    /// vEPC pages backed with a host page (first uses and prealloc).
    pub vepc_faults: u64,
    /// Host allocations for a vEPC page retried because host reclaim was
    /// running (`VM_FAULT_RETRY`).
    pub vepc_busy_retries: u64,
    /// First uses the host could not back: the VM got SIGBUS and failed.
    pub sigbus: u64,
    /// VMs started.
    pub vms_started: u64,
    /// VMs failed (SIGBUS, a poisoned host page).
    pub vms_failed: u64,
    /// Releases run (stops and reboots).
    pub releases: u64,
    /// Pages removed by a first EREMOVE pass.
    pub eremove_first_pass: u64,
    /// Pages removed by a second pass (SECS whose children went first).
    pub eremove_second_pass: u64,
    /// `SGX_CHILD_PRESENT` refusals in first passes.
    pub child_present: u64,
    /// `SGX_ENCLAVE_ACT` refusals (a logical processor still inside).
    pub enclave_act: u64,
    /// Pages put on the zombie list.
    pub zombies_added: u64,
    /// EREMOVE attempts on zombies at later releases.
    pub zombies_retried: u64,
    /// Zombies removed and freed at a later release.
    pub zombies_freed: u64,
}

impl Host {
    /// The host over `machine` and its manager `mm`.
    pub fn new(machine: Arc<Machine>, mm: Arc<EpcManager>) -> Arc<Host> {
        Arc::new(Host {
            machine,
            mm,
            vms: Mutex::new(Vec::new()),
            zombies: Mutex::new(Vec::new()),
            cells: Cells::default(),
        })
    }

    /// The host's machine.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// The host's EPC manager.
    pub fn manager(&self) -> &Arc<EpcManager> {
        &self.mm
    }

    /// Pages still on the zombie list: SECS that kept children, and pages
    /// of an enclave a logical processor was still inside.
    pub fn zombie_secs(&self) -> usize {
        self.zombies.lock().len()
    }

    /// The counters.
    pub fn counters(&self) -> HostVmCounters {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.cells;
        HostVmCounters {
            vepc_faults: r(&c.vepc_faults),
            vepc_busy_retries: r(&c.vepc_busy_retries),
            sigbus: r(&c.sigbus),
            vms_started: r(&c.vms_started),
            vms_failed: r(&c.vms_failed),
            releases: r(&c.releases),
            eremove_first_pass: r(&c.eremove_first_pass),
            eremove_second_pass: r(&c.eremove_second_pass),
            child_present: r(&c.child_present),
            enclave_act: r(&c.enclave_act),
            zombies_added: r(&c.zombies_added),
            zombies_retried: r(&c.zombies_retried),
            zombies_freed: r(&c.zombies_freed),
        }
    }

    /// A memory failure on host page `page`: if a VM holds it, the page is
    /// poisoned (machine and host manager, which retires it when the VM
    /// gives it back), that VM fails (its guest sees its EPC lost; the
    /// reason names the page) and its name is returned. `None` if no VM
    /// holds it: the caller goes on with the usual path.
    pub fn memory_failure_vm(&self, page: EpcPageId) -> Option<String> {
        let vms: Vec<Arc<Region>> = self.vms.lock().iter().filter_map(Weak::upgrade).collect();
        for vm in vms {
            if let Some(index) = vm.find(page) {
                let _ = self.machine.poison_page(page);
                let _ = self.mm.memory_failure(page);
                vm.fail(format!(
                    "memory failure: host EPC page {} behind vEPC page {index} is poisoned",
                    page.0
                ));
                return Some(vm.name.clone());
            }
        }
        None
    }

    /// Retries EREMOVE on every zombie (children before SECS), freeing
    /// those that go; returns how many were freed. Every release does it.
    pub fn retry_zombies(&self) -> usize {
        let mut zombies = self.zombies.lock();
        let mut freed = 0;
        // Two rounds: a zombie SECS goes once its zombie children did.
        for _ in 0..2 {
            let mut kept = Vec::with_capacity(zombies.len());
            zombies.sort_by_key(|z| self.is_secs(z.page.id()));
            for z in zombies.drain(..) {
                self.cells.zombies_retried.fetch_add(1, Ordering::Relaxed);
                if self.remove(z.page.id()).is_ok() {
                    self.give_back(z.page);
                    freed += 1;
                } else {
                    kept.push(z);
                }
            }
            *zombies = kept;
        }
        self.cells
            .zombies_freed
            .fetch_add(freed as u64, Ordering::Relaxed);
        freed
    }

    /// EREMOVE of a host page a VM gave up; a poisoned page counts as
    /// removed (the host manager retires it when freed).
    pub(crate) fn remove(&self, page: EpcPageId) -> Result<(), LeafError> {
        match self.machine.eremove(page) {
            Err(LeafError::MachineCheck(_)) => Ok(()),
            Err(_) if self.machine.is_poisoned(page) => Ok(()),
            r => r,
        }
    }

    /// Frees a removed host page to the host manager. A page poisoned in
    /// the machine behind the host's back (a guest's own memory failure
    /// poisons the host page behind its guest page) is reported to the
    /// manager first, so it is retired instead of handed out again.
    pub(crate) fn give_back(&self, page: EpcPage) {
        if self.machine.is_poisoned(page.id()) && !self.mm.is_poisoned(page.id()) {
            let _ = self.mm.memory_failure(page.id());
        }
        let _ = self.mm.free(page);
    }

    fn is_secs(&self, page: EpcPageId) -> bool {
        self.machine
            .epcm(page)
            .is_some_and(|e| e.valid && e.secinfo.page_type == PageType::Secs)
    }

    pub(crate) fn add_zombies(&self, vm: &str, pages: Vec<EpcPage>) {
        let n = pages.len() as u64;
        self.zombies
            .lock()
            .extend(pages.into_iter().map(|page| Zombie {
                page,
                vm: vm.to_string(),
            }));
        self.cells.zombies_added.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn register(&self, vm: &Arc<Region>) {
        let mut vms = self.vms.lock();
        vms.retain(|w| w.strong_count() > 0);
        vms.push(Arc::downgrade(vm));
    }

    pub(crate) fn unregister(&self, vm: &Arc<Region>) {
        self.vms
            .lock()
            .retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(vm)));
    }

    /// The VMs whose pages are on the zombie list, with counts (reports).
    pub fn zombie_owners(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for z in self.zombies.lock().iter() {
            match out.iter_mut().find(|(n, _)| *n == z.vm) {
                Some((_, c)) => *c += 1,
                None => out.push((z.vm.clone(), 1)),
            }
        }
        out
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("vms", &self.vms.lock().len())
            .field("zombies", &self.zombie_secs())
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}
