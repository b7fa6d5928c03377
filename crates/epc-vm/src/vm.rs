//! A virtual machine: its vEPC region, and the current boot of its guest
//! (frames and EPC manager).

use crate::config::VmConfig;
use crate::error::VmError;
use crate::frames::{Boot, GuestFrames};
use crate::host::Host;
use crate::region::Region;
use crate::release::RemoveReport;
use epc_enclave::Platform;
use epc_hw::EpcPageId;
use epc_mm::{EpcManager, ManagerConfig};
use parking_lot::{Mutex, RwLock};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A virtual machine with a vEPC, whose guest runs its own EPC manager
/// and enclaves over host pages the host lends.
pub struct Vm {
    region: Arc<Region>,
    manager_config: ManagerConfig,
    boot: RwLock<Boot>,
    /// Serializes stop and reboot.
    release: Mutex<()>,
    stopped: AtomicBool,
    reboots: AtomicU64,
}

impl Vm {
    /// Starts the VM: its vEPC (every host page now if `prealloc`; a
    /// prealloc that cannot get its pages fails with
    /// [`VmError::NoMemory`] and leaves nothing held) and its guest
    /// manager (with its own ksgxd unless deterministic).
    pub fn start(host: &Arc<Host>, config: VmConfig) -> Result<Arc<Vm>, VmError> {
        let manager_config = config.guest_manager()?;
        let region = Arc::new(Region::new(
            host.clone(),
            config.name.clone(),
            config.epc_pages,
            config.group,
            config.node,
        ));
        if config.prealloc {
            for i in 0..config.epc_pages {
                if region.frame(EpcPageId(i)).is_err() {
                    let why = region.failure().unwrap_or_default();
                    let report = region.remove_all();
                    debug_assert_eq!(report.removed, i as usize, "fresh pages remove");
                    return Err(VmError::NoMemory {
                        vm: config.name,
                        wanted: config.epc_pages,
                        got: i,
                        why,
                    });
                }
            }
        }
        let boot = new_boot(&region, &manager_config)?;
        host.register(&region);
        host.cells.vms_started.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(Vm {
            region,
            manager_config,
            boot: RwLock::new(boot),
            release: Mutex::new(()),
            stopped: AtomicBool::new(false),
            reboots: AtomicU64::new(0),
        }))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.region.name
    }

    /// Its vEPC size in pages.
    pub fn epc_pages(&self) -> u32 {
        self.region.epc_pages
    }

    /// The host it runs on.
    pub fn host(&self) -> &Arc<Host> {
        &self.region.host
    }

    /// The platform guest enclaves of the current boot are created on
    /// ([`epc_enclave::Enclave::create_on`]).
    pub fn platform(&self) -> Platform {
        let frames = self.boot.read().frames.clone();
        Platform::guest(self.region.host.machine().clone(), frames)
    }

    /// The guest's EPC manager (of the current boot).
    pub fn manager(&self) -> Arc<EpcManager> {
        self.boot.read().mm.clone()
    }

    /// Host EPC pages it holds now.
    pub fn host_pages(&self) -> usize {
        self.region.held()
    }

    /// The most host EPC pages it held at once.
    pub fn peak_host_pages(&self) -> usize {
        self.region.peak()
    }

    /// Reboots so far.
    pub fn reboots(&self) -> u64 {
        self.reboots.load(Ordering::Relaxed)
    }

    /// Whether it was stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// The host page behind guest page `page` now, if any (the EPT entry;
    /// for inspection and tests).
    pub fn host_page(&self, page: EpcPageId) -> Option<EpcPageId> {
        self.region.walk(page)
    }

    /// `None` while healthy; `Some(why)` once failed (SIGBUS on a vEPC
    /// page the host could not back, a poisoned host page, the host's EPC
    /// lost at a power cycle). A failed VM's guest enclaves see their EPC
    /// lost; the VM holds its pages until [`stop`](Vm::stop).
    pub fn failed(&self) -> Option<String> {
        self.region.failure().or_else(|| {
            (self.region.host.machine().power_cycles() != self.region.boot)
                .then(|| "host EPC lost (power cycle)".to_string())
        })
    }

    /// Guest reboot (`SGX_IOC_VEPC_REMOVE_ALL`, twice): the current boot
    /// ends (its enclaves see their EPC lost), every vEPC page is
    /// EREMOVEd and given back (the next boot backs them again on use),
    /// and the guest manager is replaced by a fresh one. A stopped VM
    /// does nothing.
    pub fn reboot(&self) -> RemoveReport {
        let _serial = self.release.lock();
        if self.is_stopped() {
            return RemoveReport::default();
        }
        let old = self.boot.read().clone();
        old.frames.end();
        let report = self.region.remove_all();
        old.mm.shutdown();
        match new_boot(&self.region, &self.manager_config) {
            Ok(boot) => *self.boot.write() = boot,
            Err(e) => self.region.fail(format!("reboot: {e}")),
        }
        self.reboots.fetch_add(1, Ordering::Relaxed);
        report
    }

    /// Destroy: the guest's boot ends, every page is EREMOVEd (two passes,
    /// leftovers to the host's zombie list, which is retried here too) and
    /// every host page goes back to the host's free lists, uncharged.
    /// Idempotent: a second call only retries the zombie list.
    pub fn stop(&self) -> RemoveReport {
        let _serial = self.release.lock();
        if self.stopped.swap(true, Ordering::AcqRel) {
            return RemoveReport {
                zombies_freed: self.region.host.retry_zombies(),
                ..RemoveReport::default()
            };
        }
        let boot = self.boot.read().clone();
        boot.frames.end();
        self.region.release();
        let report = self.region.remove_all();
        boot.mm.shutdown();
        self.region.host.unregister(&self.region);
        report
    }

    /// Test hook: points the EPT entry of guest page `page` at `host_page`
    /// (any host page, as a buggy or malicious hypervisor could), or
    /// clears it; returns the old entry. Put the old entry back before
    /// [`stop`](Vm::stop). A thread whose TLB holds the page must leave the
    /// enclave first for the new entry to be walked.
    #[doc(hidden)]
    pub fn set_ept_for_test(
        &self,
        page: EpcPageId,
        host_page: Option<EpcPageId>,
    ) -> Option<EpcPageId> {
        self.region.set_slot(page, host_page)
    }
}

/// A fresh boot: frames over `region` and a guest manager.
fn new_boot(region: &Arc<Region>, config: &ManagerConfig) -> Result<Boot, VmError> {
    let mm = EpcManager::new(config.clone()).map_err(|source| VmError::Manager {
        vm: region.name.clone(),
        source,
    })?;
    Ok(Boot {
        frames: Arc::new(GuestFrames::new(region.clone())),
        mm: Arc::new(mm),
    })
}

impl Drop for Vm {
    /// A VM dropped without [`stop`](Vm::stop) is stopped (its file
    /// descriptor closed).
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl fmt::Debug for Vm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vm")
            .field("name", &self.name())
            .field("epc_pages", &self.epc_pages())
            .field("host_pages", &self.host_pages())
            .field("failed", &self.failed())
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}
