//! Virtual machines in a run (`epc_vm`): each `[[vm]]` of the scenario is
//! started over the run's host ([`epc_vm::Host`]: its machine and
//! manager), at time 0 or by a `start_vm` event; its guest enclaves are
//! enclave slots like the host's (`slot.rs`), built on the VM's platform
//! and guest manager and run by the same drivers and workers. A
//! `reboot_vm` stops the guest's threads, has the host remove every vEPC
//! page while the VM lives and builds the guest's enclaves again from
//! scratch on the fresh guest manager; a `stop_vm` stops the threads and
//! the VM. A VM that fails (its start could not get its preallocated
//! pages, a vEPC fault the host could not back, a poisoned host page) is
//! reported with its reason, its enclaves are lost with it, and the rest
//! of the run goes on: the runner stops it at once, as its process would
//! exit, so its host pages go back to the host. At the end every VM still running is shut down
//! cleanly (its enclaves destroyed in the guest, its guest manager
//! checked, then stopped), before the host's teardown check.

use super::finish;
use super::groups::Groups;
use super::slot::{self, Home, Slot};
use super::system;
use super::timeline::World;
use crate::metrics::MmDelta;
use crate::report::Integrity;
use crate::scenario::VmSpec;
use crate::SimError;
use epc_enclave::{Enclave, Platform};
use epc_hw::{EpcPageId, NodeId, SectionConfig};
use epc_mm::EpcManager;
use epc_vm::{Host, RemoveReport, Vm, VmConfig, VmError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A VM's guest as its enclave slots see it: the VM while it runs, and
/// the flag that stops the guest's threads.
#[derive(Debug)]
pub(crate) struct GuestHome {
    name: String,
    vm: Mutex<Option<Arc<Vm>>>,
    /// Set to stop the guest's threads: at `stop_vm`, `reboot_vm`, when
    /// the VM fails, and at Ctrl-C.
    pub(crate) halt: Arc<AtomicBool>,
}

impl GuestHome {
    /// Where the guest's enclaves are built now: the VM's platform and
    /// guest manager (of its current boot), or why they cannot be.
    pub(crate) fn target(&self) -> Result<(Platform, Arc<EpcManager>), String> {
        match &*self.vm.lock() {
            None => Err(format!("VM {:?} is not running", self.name)),
            Some(vm) => match vm.failed() {
                Some(why) => Err(format!("VM {:?} failed: {why}", self.name)),
                None => Ok((vm.platform(), vm.manager())),
            },
        }
    }
}

/// One VM of the run and what happened to it.
#[derive(Debug)]
pub(crate) struct VmSlot {
    pub(crate) spec: VmSpec,
    pub(crate) home: Arc<GuestHome>,
    /// Its enclaves' slots (also in the run's list of slots).
    pub(crate) guests: Vec<Arc<Slot>>,
    config: VmConfig,
    state: Mutex<VmState>,
}

/// What a VM slot's lock guards.
#[derive(Debug, Default)]
struct VmState {
    /// The VM once started (kept after it stops, for its figures).
    vm: Option<Arc<Vm>>,
    started_at: Option<f64>,
    stopped_at: Option<f64>,
    /// Why it could not start, if it could not.
    start_failure: Option<String>,
    /// The counters of its guest managers of boots that ended, summed.
    past: MmDelta,
}

/// How a VM's figures stood when the workers stopped.
#[derive(Clone, Debug, Default)]
pub(crate) struct VmAtEnd {
    pub(crate) host_pages: u64,
    pub(crate) peak_host_pages: u64,
    pub(crate) failed: Option<String>,
    pub(crate) started_at: Option<f64>,
    pub(crate) stopped_at: Option<f64>,
    pub(crate) reboots: u64,
    /// Its guest managers' counters over every boot.
    pub(crate) mm: MmDelta,
}

impl VmSlot {
    /// VM number `index` of the scenario; its enclaves get the run's slot
    /// numbers from `first_slot` on. Its guest manager's configuration is
    /// checked here (a field it refuses names the VM).
    pub(crate) fn new(
        index: usize,
        spec: &VmSpec,
        first_slot: usize,
        groups: &Groups,
    ) -> Result<VmSlot, SimError> {
        let section = SectionConfig {
            pages: spec.epc_pages,
            node: NodeId(0),
        };
        let manager = system::manager_config(&spec.manager, vec![section])
            .map_err(|e| SimError::input(format!("vm[{index}].manager: {e}")))?;
        let home = Arc::new(GuestHome {
            name: spec.name.clone(),
            vm: Mutex::new(None),
            halt: Arc::new(AtomicBool::new(false)),
        });
        let guests = spec
            .enclaves
            .iter()
            .enumerate()
            .map(|(j, e)| {
                Arc::new(Slot::new(
                    first_slot + j,
                    e.clone(),
                    Home::Guest(home.clone()),
                ))
            })
            .collect();
        Ok(VmSlot {
            config: VmConfig {
                name: spec.name.clone(),
                epc_pages: spec.epc_pages,
                prealloc: spec.prealloc,
                group: groups.id(&spec.cgroup),
                node: NodeId(spec.node),
                manager,
            },
            spec: spec.clone(),
            home,
            guests,
            state: Mutex::new(VmState::default()),
        })
    }

    /// Whether it runs now (started, not stopped; it may have failed).
    pub(crate) fn running(&self) -> bool {
        self.home.vm.lock().is_some()
    }

    /// Host EPC pages it holds now.
    pub(crate) fn host_pages(&self) -> u64 {
        self.state
            .lock()
            .vm
            .as_ref()
            .map_or(0, |v| v.host_pages() as u64)
    }

    /// Starts it `at` seconds into the run (its vEPC, all host pages now
    /// if preallocated, and its guest manager); its enclaves are built by
    /// the caller. A start that cannot get its host pages is the VM's
    /// failure, reported, not an error of the run. Returns what it came
    /// to.
    pub(crate) fn start(&self, host: &Arc<Host>, at: f64) -> Result<String, SimError> {
        let mut st = self.state.lock();
        st.started_at = Some(at);
        match Vm::start(host, self.config.clone()) {
            Ok(vm) => {
                let held = vm.host_pages();
                st.vm = Some(vm.clone());
                *self.home.vm.lock() = Some(vm);
                Ok(format!("started, {held} host EPC pages held"))
            }
            Err(e @ VmError::NoMemory { .. }) => {
                st.start_failure = Some(e.to_string());
                Ok(format!("failed: {e}"))
            }
            Err(e) => Err(SimError::system(format!(
                "starting VM {:?}: {e}",
                self.spec.name
            ))),
        }
    }

    /// The guest slots to run now that it started, if it did.
    pub(crate) fn started_guests(&self, at: f64) -> Vec<Arc<Slot>> {
        if !self.running() {
            return Vec::new();
        }
        for g in &self.guests {
            g.mark_started(at);
        }
        self.guests.clone()
    }

    /// Stops the guest's threads and waits for them (their results go to
    /// the world's), so that no logical processor is inside a guest
    /// enclave and every page is removable.
    fn halt_guests(&self, w: &mut World) -> Result<(), SimError> {
        self.home.halt.store(true, Ordering::Relaxed);
        let mine: Vec<usize> = self.guests.iter().map(|g| g.index).collect();
        let (theirs, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut w.drivers)
            .into_iter()
            .partition(|(i, _)| mine.contains(i));
        w.drivers = rest;
        for (_, h) in theirs {
            w.results.extend(
                h.join()
                    .map_err(|_| SimError::system("a guest enclave driver thread panicked"))??,
            );
        }
        self.home.halt.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The guest enclaves of the latest builds.
    fn enclaves(&self) -> Vec<Arc<Enclave>> {
        self.guests.iter().filter_map(|g| g.enclave()).collect()
    }

    /// If the VM failed since the last look, it is torn down as its
    /// process would be (QEMU exits on SIGBUS, and closing the vEPC gives
    /// its pages back): its threads are stopped, its enclaves told the
    /// EPC is lost, and the VM stopped, every host page back to the host.
    /// Called by the runner's main loop and after events that can fail a
    /// VM.
    pub(crate) fn watch(&self, w: &mut World) -> Result<(), SimError> {
        let Some(vm) = self.home.vm.lock().clone() else {
            return Ok(());
        };
        if vm.failed().is_none() {
            return Ok(());
        }
        self.halt_guests(w)?;
        *self.home.vm.lock() = None;
        epc_enclave::epc_lost(&self.enclaves());
        let before = vm.manager().counters();
        vm.stop();
        self.state
            .lock()
            .past
            .add(&MmDelta::between(&Default::default(), &before));
        Ok(())
    }

    /// `stop_vm` `at` seconds into the run: the guest's threads stopped,
    /// then the VM (the host removes every page and takes it back).
    pub(crate) fn stop(&self, w: &mut World, at: f64) -> Result<String, SimError> {
        let Some(vm) = self.home.vm.lock().clone() else {
            return Ok("nothing to stop: the VM is not running".into());
        };
        self.halt_guests(w)?;
        *self.home.vm.lock() = None;
        let report = vm.stop();
        for g in self.guests.iter().filter(|g| g.started_at().is_some()) {
            g.stop_with_vm(at);
        }
        epc_enclave::epc_lost(&self.enclaves());
        let mut st = self.state.lock();
        st.stopped_at = Some(at);
        st.past.add(&MmDelta::between(
            &Default::default(),
            &vm.manager().counters(),
        ));
        Ok(removed(&report))
    }

    /// `reboot_vm`: the guest's threads stopped, every vEPC page removed
    /// while the VM lives, and the guest's enclaves (those started and not
    /// stopped) built again from scratch on the fresh guest manager, their
    /// workloads from the beginning.
    pub(crate) fn reboot(&self, w: &mut World) -> Result<String, SimError> {
        let Some(vm) = self.home.vm.lock().clone() else {
            return Ok("nothing to reboot: the VM is not running".into());
        };
        self.halt_guests(w)?;
        let before = vm.manager().counters();
        let report = vm.reboot();
        self.state
            .lock()
            .past
            .add(&MmDelta::between(&Default::default(), &before));
        epc_enclave::epc_lost(&self.enclaves());
        let mut again = 0;
        for g in &self.guests {
            if g.on_reboot() {
                w.drivers
                    .push((g.index, slot::spawn_driver(g.clone(), w.ctx.clone(), true)?));
                again += 1;
            }
        }
        Ok(format!(
            "{}; {again} guest enclave(s) built again",
            removed(&report)
        ))
    }

    /// A memory failure in a host page the VM holds (`poison` with `vm`),
    /// picked by the event's number among the vEPC pages backed now: the
    /// host's `memory_failure_vm` poisons it and fails the VM.
    pub(crate) fn poison(&self, host: &Host, index: usize) -> String {
        let Some(vm) = self.home.vm.lock().clone() else {
            return "nothing poisoned: the VM is not running".into();
        };
        let backed: Vec<EpcPageId> = (0..vm.epc_pages())
            .filter_map(|i| vm.host_page(EpcPageId(i)))
            .collect();
        if backed.is_empty() {
            return "nothing poisoned: the VM holds no host page".into();
        }
        let page = backed[index.wrapping_mul(7919) % backed.len()];
        match host.memory_failure_vm(page) {
            Some(name) => format!("host EPC page {}: VM {name:?} failed", page.0),
            None => format!("host EPC page {}: no VM holds it any more", page.0),
        }
    }

    /// Its figures when the workers stopped.
    pub(crate) fn at_end(&self) -> VmAtEnd {
        let st = self.state.lock();
        let mut mm = st.past;
        let mut out = VmAtEnd {
            started_at: st.started_at,
            stopped_at: st.stopped_at,
            failed: st.start_failure.clone(),
            ..VmAtEnd::default()
        };
        if let Some(vm) = &st.vm {
            if !vm.is_stopped() {
                mm.add(&MmDelta::between(
                    &Default::default(),
                    &vm.manager().counters(),
                ));
            }
            out.host_pages = vm.host_pages() as u64;
            out.peak_host_pages = vm.peak_host_pages() as u64;
            out.failed = out.failed.or_else(|| vm.failed());
            out.reboots = vm.reboots();
        }
        out.mm = mm;
        out
    }

    /// At the end of the run, if it still runs: its enclaves destroyed in
    /// the guest (their threads are done), then the VM stopped, and its
    /// guest manager checked as the host's is (every page free again,
    /// `validate()`), into `integrity`. A failed VM is only stopped.
    pub(crate) fn shut_down(&self, integrity: &mut Integrity) {
        let Some(vm) = self.home.vm.lock().take() else {
            return;
        };
        let healthy = vm.failed().is_none();
        if healthy {
            for e in self.enclaves() {
                e.destroy();
            }
        }
        vm.stop();
        if healthy {
            finish::check_guest_teardown(&self.spec.name, &vm.manager(), integrity);
        }
    }
}

/// A release's figures in words (a `stop_vm`'s or a `reboot_vm`'s
/// outcome).
fn removed(r: &RemoveReport) -> String {
    format!(
        "{} pages removed ({} in the second pass; {} SGX_CHILD_PRESENT, {} SGX_ENCLAVE_ACT), \
         {} to the zombie list, {} zombies freed",
        r.removed, r.second_pass, r.child_present, r.enclave_act, r.zombies, r.zombies_freed
    )
}
