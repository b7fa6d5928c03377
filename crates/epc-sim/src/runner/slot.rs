//! One enclave's life in a run: built before the run or by a
//! `start_enclave` event, its threads, a `stop_enclave` event that
//! destroys it while they run, and a `suspend` that loses it (and rebuilds
//! it if it restarts). A driver thread per build runs the enclave's
//! workers and gathers their results (building it first when it starts
//! late or again). A guest enclave is the same with its VM as its home:
//! built on the VM's platform and guest manager, started with the VM,
//! rebuilt after a `reboot_vm`, and ended by a `stop_vm`
//! (`runner/vm.rs`).

use super::groups::Groups;
use super::system::{self, BuildError};
use super::vm::GuestHome;
use super::worker::{self, WorkerJob, WorkerResult};
use crate::scenario::EnclaveSpec;
use crate::SimError;
use epc_enclave::{Enclave, KillReason, Platform};
use epc_hw::Machine;
use epc_mm::EpcManager;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// One enclave of the run and what happened to it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) index: usize,
    pub(crate) spec: EnclaveSpec,
    /// Where it runs: the host, or a VM.
    pub(crate) home: Home,
    /// Its enclave and whether a `stop_enclave` came, under one lock: the
    /// builder sets the enclave and reads the stop, the stopper sets the
    /// stop and reads the enclave, so one of the two destroys it. The
    /// builder also reads the machine's power-cycle count under it, and a
    /// `suspend` reads the enclave under it after the power cycle began, so
    /// an enclave built across a suspend is seen as lost by one of them.
    life: Mutex<Life>,
    /// Seconds from the start of the run when it started.
    started_at: Mutex<Option<f64>>,
    /// Seconds from the start of the run when a `stop_enclave` destroyed
    /// it.
    stopped_at: Mutex<Option<f64>>,
    /// Why it could not be built (no memory), if it could not.
    build_failure: Mutex<Option<String>>,
}

/// Where an enclave runs.
#[derive(Clone, Debug)]
pub(crate) enum Home {
    /// On the host's machine and manager.
    Host,
    /// In a VM, on its platform and guest manager.
    Guest(Arc<GuestHome>),
}

/// What the slot's lock guards.
#[derive(Debug, Default)]
struct Life {
    /// The enclave of the latest build (the lost one until its rebuild is
    /// done).
    enclave: Option<Arc<Enclave>>,
    /// Whether a `stop_enclave` came.
    stop_requested: bool,
    /// Rebuilds after the EPC was lost.
    restarts: u32,
}

/// What every driver shares.
#[derive(Clone, Debug)]
pub(crate) struct RunContext {
    pub(crate) machine: Arc<Machine>,
    pub(crate) mm: Arc<EpcManager>,
    /// Ctrl-C.
    pub(crate) stop: Arc<AtomicBool>,
    /// Accesses of every worker so far.
    pub(crate) accesses: Arc<AtomicU64>,
    /// When the run started (time 0 of the timeline).
    pub(crate) start: Instant,
    /// When every thread must stop (`duration_seconds`).
    pub(crate) deadline: Option<Instant>,
    /// The EPC cgroups.
    pub(crate) groups: Arc<Groups>,
}

impl Slot {
    pub(crate) fn new(index: usize, spec: EnclaveSpec, home: Home) -> Slot {
        Slot {
            index,
            spec,
            home,
            life: Mutex::new(Life::default()),
            started_at: Mutex::new(None),
            stopped_at: Mutex::new(None),
            build_failure: Mutex::new(None),
        }
    }

    /// The enclave of its latest build, once built.
    pub(crate) fn enclave(&self) -> Option<Arc<Enclave>> {
        self.life.lock().enclave.clone()
    }

    /// How many times it was rebuilt after the EPC was lost.
    pub(crate) fn restarts(&self) -> u32 {
        self.life.lock().restarts
    }

    pub(crate) fn started_at(&self) -> Option<f64> {
        *self.started_at.lock()
    }

    pub(crate) fn stopped_at(&self) -> Option<f64> {
        *self.stopped_at.lock()
    }

    pub(crate) fn build_failure(&self) -> Option<String> {
        self.build_failure.lock().clone()
    }

    /// Builds the enclave (before the run, from a driver, or again after a
    /// `suspend`). A build that runs out of memory is recorded as the
    /// enclave's failure, not an error of the run. A build the loss of the
    /// EPC overtook is done again if the enclave restarts, and otherwise
    /// leaves the enclave lost.
    pub(crate) fn build(&self, ctx: &RunContext) -> Result<(), SimError> {
        let give_up = || ctx.stop.load(Ordering::Relaxed) || self.life.lock().stop_requested;
        loop {
            let (platform, mm, group) = match &self.home {
                Home::Host => (
                    Platform::host(ctx.machine.clone()),
                    ctx.mm.clone(),
                    ctx.groups.id(&self.spec.cgroup),
                ),
                // A guest enclave is in its guest's root group.
                Home::Guest(vm) => match vm.target() {
                    Ok((p, mm)) => (p, mm, epc_mm::GroupId::ROOT),
                    Err(why) => {
                        *self.build_failure.lock() = Some(why);
                        return Ok(());
                    }
                },
            };
            let epoch = platform.epoch();
            let built =
                system::build_enclave(&platform, &mm, self.index, &self.spec, group, &give_up);
            let mut life = self.life.lock();
            let lost = platform.epoch() != epoch;
            // A guest whose VM failed (or stopped) under the build: the
            // enclave is lost with it, whatever leaf noticed.
            let vm_gone = match &self.home {
                Home::Host => None,
                Home::Guest(vm) => vm.target().err(),
            };
            match built {
                Ok(e) if lost => {
                    drop(life);
                    e.notice_epc_loss();
                    if self.spec.restart && vm_gone.is_none() && !give_up() {
                        continue;
                    }
                    self.life.lock().enclave = Some(e);
                }
                Ok(e) => {
                    life.enclave = Some(e.clone());
                    // A stop that came while it was being built applies now.
                    let stop = life.stop_requested;
                    drop(life);
                    if stop {
                        e.destroy();
                    }
                }
                Err(BuildError::NoMemory(why)) => {
                    drop(life);
                    *self.build_failure.lock() = Some(why);
                }
                Err(BuildError::GaveUp) => {}
                Err(BuildError::System(_)) if lost || vm_gone.is_some() => {
                    drop(life);
                    if let Some(why) = vm_gone {
                        *self.build_failure.lock() = Some(why);
                        return Ok(());
                    }
                    if self.spec.restart && !give_up() {
                        continue;
                    }
                    *self.build_failure.lock() =
                        Some("the EPC was lost while it was being built".into());
                }
                Err(BuildError::System(e)) => return Err(e),
            }
            return Ok(());
        }
    }

    /// Marks it started `at` seconds into the run.
    pub(crate) fn mark_started(&self, at: f64) {
        *self.started_at.lock() = Some(at);
    }

    /// Destroys it `at` seconds into the run (`stop_enclave`): its threads
    /// are sent out and its pages freed. If it is still being built, the
    /// build gives up or destroys it when done.
    pub(crate) fn stop(&self, at: f64) {
        *self.stopped_at.lock() = Some(at);
        let built = {
            let mut life = self.life.lock();
            life.stop_requested = true;
            life.enclave.clone()
        };
        if let Some(e) = built {
            e.destroy();
        }
    }

    /// Ends it with its VM (`stop_vm`), `at` seconds into the run: it
    /// counts as stopped, not killed; its threads were stopped first, and
    /// the host takes its pages back with the VM's.
    pub(crate) fn stop_with_vm(&self, at: f64) {
        *self.stopped_at.lock() = Some(at);
        self.life.lock().stop_requested = true;
    }

    /// Before it is built again on its rebooted VM: a rebuild is counted
    /// (its workers' results of before are of an older generation), and
    /// an earlier build failure forgotten. Returns whether it is to be
    /// rebuilt: it had started and was not stopped.
    pub(crate) fn on_reboot(&self) -> bool {
        let mut life = self.life.lock();
        if life.stop_requested || self.started_at().is_none() {
            return false;
        }
        life.restarts += 1;
        *self.build_failure.lock() = None;
        true
    }

    /// The run context its driver uses: the run's, with its VM's stop
    /// flag for a guest enclave (set at `stop_vm`, `reboot_vm` and Ctrl-C).
    pub(crate) fn driver_ctx(&self, ctx: &RunContext) -> RunContext {
        match &self.home {
            Home::Host => ctx.clone(),
            Home::Guest(vm) => RunContext {
                stop: vm.halt.clone(),
                ..ctx.clone()
            },
        }
    }

    /// Whether a `stop_enclave` event destroyed it.
    pub(crate) fn was_stopped(&self) -> bool {
        self.life.lock().stop_requested
    }

    /// After a power cycle began: its enclave, if it has one (to be told
    /// the EPC is lost), whether it was running until the loss (not
    /// stopped, not killed for another reason; its threads may have
    /// noticed the loss already), and whether it is to be rebuilt (a host
    /// enclave running with `restart = true`); a rebuild is counted here.
    pub(crate) fn on_epc_loss(&self) -> (Option<Arc<Enclave>>, bool, bool) {
        let mut life = self.life.lock();
        let Some(e) = life.enclave.clone() else {
            return (None, false, false);
        };
        let running =
            !life.stop_requested && matches!(e.killed(), None | Some(KillReason::EpcLost));
        // A guest enclave is not rebuilt: its VM fails with the host's EPC.
        let again = self.spec.restart && running && matches!(self.home, Home::Host);
        if again {
            life.restarts += 1;
        }
        (Some(e), running, again)
    }
}

/// Starts the driver of `slot` (with its [`Slot::driver_ctx`]): builds it
/// first if `build`, then runs its workers until they end and returns
/// their results.
pub(crate) fn spawn_driver(
    slot: Arc<Slot>,
    ctx: RunContext,
    build: bool,
) -> Result<JoinHandle<Result<Vec<WorkerResult>, SimError>>, SimError> {
    std::thread::Builder::new()
        .name(slot.spec.name.clone())
        .spawn(move || {
            let ctx = slot.driver_ctx(&ctx);
            if build {
                slot.build(&ctx)?;
            }
            let Some(enclave) = slot.enclave().filter(|e| e.killed().is_none()) else {
                return Ok(Vec::new());
            };
            let generation = slot.restarts();
            let mut handles = Vec::new();
            for t in 0..slot.spec.threads {
                let job = WorkerJob {
                    enclave_index: slot.index,
                    generation,
                    enclave: enclave.clone(),
                    thread: t,
                    threads: slot.spec.threads,
                    pages: slot.spec.pages,
                    workload: slot.spec.workload.clone(),
                    deadline: ctx.deadline,
                    stop: ctx.stop.clone(),
                    accesses: ctx.accesses.clone(),
                };
                let h = std::thread::Builder::new()
                    .name(format!("{}-{t}", slot.spec.name))
                    .spawn(move || worker::run(job))
                    .map_err(|e| SimError::system(format!("spawning a thread: {e}")))?;
                handles.push(h);
            }
            let mut results = Vec::new();
            for h in handles {
                results.push(
                    h.join()
                        .map_err(|_| SimError::system("a workload thread panicked"))?,
                );
            }
            Ok(results)
        })
        .map_err(|e| SimError::system(format!("spawning a thread: {e}")))
}
