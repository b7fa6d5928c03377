//! One enclave's life in a run: built before the run or by a
//! `start_enclave` event, its threads, and a `stop_enclave` event that
//! destroys it while they run. A driver thread per enclave builds it (when
//! it starts late), runs its workers and gathers their results.

use super::groups::Groups;
use super::system::{self, BuildError};
use super::worker::{self, WorkerJob, WorkerResult};
use crate::scenario::EnclaveSpec;
use crate::SimError;
use epc_enclave::Enclave;
use epc_hw::Machine;
use epc_mm::EpcManager;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

/// One enclave of the run and what happened to it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) index: usize,
    pub(crate) spec: EnclaveSpec,
    /// Set once it is built.
    enclave: OnceLock<Arc<Enclave>>,
    /// Seconds from the start of the run when it started.
    started_at: Mutex<Option<f64>>,
    /// Seconds from the start of the run when a `stop_enclave` destroyed
    /// it.
    stopped_at: Mutex<Option<f64>>,
    /// Why it could not be built (no memory), if it could not.
    build_failure: Mutex<Option<String>>,
    /// Whether a `stop_enclave` came. The builder reads it after setting
    /// `enclave`, the stopper writes it before reading `enclave`, both under
    /// this lock: one of the two sees the other and destroys the enclave.
    stop_requested: Mutex<bool>,
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
    pub(crate) fn new(index: usize, spec: EnclaveSpec) -> Slot {
        Slot {
            index,
            spec,
            enclave: OnceLock::new(),
            started_at: Mutex::new(None),
            stopped_at: Mutex::new(None),
            build_failure: Mutex::new(None),
            stop_requested: Mutex::new(false),
        }
    }

    /// The enclave, once built.
    pub(crate) fn enclave(&self) -> Option<&Arc<Enclave>> {
        self.enclave.get()
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

    /// Builds the enclave (before the run, or from a driver). A build that
    /// runs out of memory is recorded as the enclave's failure, not an
    /// error of the run.
    pub(crate) fn build(&self, ctx: &RunContext) -> Result<(), SimError> {
        let give_up = || ctx.stop.load(Ordering::Relaxed) || *self.stop_requested.lock();
        let group = ctx.groups.id(&self.spec.cgroup);
        match system::build_enclave(
            &ctx.machine,
            &ctx.mm,
            self.index,
            &self.spec,
            group,
            &give_up,
        ) {
            Ok(e) => {
                let _ = self.enclave.set(e);
                // A stop that came while it was being built applies now.
                if *self.stop_requested.lock() {
                    self.destroy_built();
                }
                Ok(())
            }
            Err(BuildError::NoMemory(why)) => {
                *self.build_failure.lock() = Some(why);
                Ok(())
            }
            Err(BuildError::GaveUp) => Ok(()),
            Err(BuildError::System(e)) => Err(e),
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
        let mut requested = self.stop_requested.lock();
        *requested = true;
        let built = self.enclave.get().cloned();
        drop(requested);
        if let Some(e) = built {
            e.destroy();
        }
    }

    fn destroy_built(&self) {
        if let Some(e) = self.enclave.get() {
            e.destroy();
        }
    }

    /// Whether a `stop_enclave` event destroyed it.
    pub(crate) fn was_stopped(&self) -> bool {
        *self.stop_requested.lock()
    }
}

/// Starts the driver of `slot`: builds it first if `build`, then runs its
/// workers until they end and returns their results.
pub(crate) fn spawn_driver(
    slot: Arc<Slot>,
    ctx: RunContext,
    build: bool,
) -> Result<JoinHandle<Result<Vec<WorkerResult>, SimError>>, SimError> {
    std::thread::Builder::new()
        .name(slot.spec.name.clone())
        .spawn(move || {
            if build {
                slot.build(&ctx)?;
            }
            let Some(enclave) = slot.enclave().cloned() else {
                return Ok(Vec::new());
            };
            let mut handles = Vec::new();
            for t in 0..slot.spec.threads {
                let job = WorkerJob {
                    enclave_index: slot.index,
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
