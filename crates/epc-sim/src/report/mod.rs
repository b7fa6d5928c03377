//! Reports: what a run or a replay found, as JSON (the contract tools rely
//! on), a summary table for people, and the report folder with the time
//! series and plots.

mod folder;
mod summary;

pub use folder::{timeseries_csv, write_run_folder};
pub use summary::{run_summary, Table};

use crate::metrics::{CounterMap, Percentiles};
use serde::Serialize;
use std::collections::BTreeMap;

/// One point of the time series.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// Seconds since the workers started.
    pub t: f64,
    /// Free EPC pages.
    pub free_pages: u64,
    /// Pages on the manager's reclaimable list.
    pub reclaimable_pages: u64,
    /// Faults in the interval.
    pub faults: u64,
    /// Pages evicted (EWB by the manager) in the interval.
    pub evictions: u64,
    /// Pages reloaded (ELDU) in the interval.
    pub eldu: u64,
    /// Faults per second over the interval.
    pub fault_rate: f64,
    /// Evictions per second over the interval.
    pub eviction_rate: f64,
    /// Resident pages of each enclave, in the order of
    /// [`RunReport::enclave_names`] (the host's, then each VM's).
    pub resident: Vec<u64>,
    /// Each EPC cgroup's usage and limit, in the order of
    /// [`RunReport::cgroup_paths`].
    pub cgroups: Vec<CgroupSample>,
    /// Host EPC pages each VM holds, in scenario order.
    pub vm_host_pages: Vec<u64>,
}

/// One EPC cgroup at one moment.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CgroupSample {
    /// Pages charged to it and its descendants.
    pub current: u64,
    /// Its own limit (`None`: unlimited).
    pub max: Option<u64>,
}

/// One EPC cgroup at the end of a run (the `cgroups` object of
/// `report.json`, keyed by path).
#[derive(Clone, Debug, Serialize)]
pub struct CgroupReport {
    /// Its limit in pages when the run ended (`None`: unlimited, `"max"`).
    pub max: Option<u64>,
    /// Its protection in pages.
    pub low: u64,
    /// Pages charged to it and its descendants when the workers stopped.
    pub current: u64,
    /// The highest `current` it reached.
    pub peak: u64,
    /// Times a charge would have passed its limit (`misc.events` `max`),
    /// since it was created (the builds included).
    pub events_max: u64,
    /// Pages evicted from its own reclaimable list since it was created
    /// (the builds included).
    pub evicted: u64,
    /// Faults of the enclaves charged to it (not its descendants').
    pub faults: u64,
    /// The policy of its reclaimable list.
    pub policy: String,
}

/// The result of the integrity check.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Integrity {
    /// Pages read back at the end (the guest enclaves' too, in the run's
    /// `integrity`).
    pub pages_checked: u64,
    /// Pages whose tag or a thread's last write was wrong.
    pub corrupt: u64,
    /// Reads during the run that found a wrong tag.
    pub corrupt_reads: u64,
    /// Enclaves killed during the run, for any reason (their pages are not
    /// checked: a killed enclave's memory is gone, as after Linux's
    /// SIGBUS).
    pub enclaves_killed: u64,
    /// Of those, enclaves killed by a memory failure (a thread or a leaf
    /// read a poisoned page; `kill_kind` `memory_failure`): not corruption.
    pub killed_by_memory_failure: u64,
    /// Of those, enclaves lost with the EPC at a `suspend` and not rebuilt
    /// (`kill_kind` `epc_lost`): not corruption.
    pub lost_with_the_epc: u64,
    /// Pages still allocated after every enclave was destroyed and the
    /// manager shut down (0: nothing leaked, every group back to 0); with
    /// VMs, the pages each guest manager still had after its enclaves were
    /// destroyed count too, and the host's count every host page a VM did
    /// not give back (the zombie list).
    pub pages_leaked: u64,
    /// What the manager's own consistency check (`validate()`) found after
    /// the teardown, if anything.
    pub manager_error: Option<String>,
    /// No page read back wrong, nothing leaked and the manager consistent
    /// (a killed or failed enclave is reported, not corruption, so it does
    /// not count here).
    pub ok: bool,
}

impl Integrity {
    /// Adds the counts of `o` (a VM's) to these; the first manager error
    /// is kept. `ok` is left to be computed again.
    pub fn absorb(&mut self, o: &Integrity) {
        self.pages_checked += o.pages_checked;
        self.corrupt += o.corrupt;
        self.corrupt_reads += o.corrupt_reads;
        self.enclaves_killed += o.enclaves_killed;
        self.killed_by_memory_failure += o.killed_by_memory_failure;
        self.lost_with_the_epc += o.lost_with_the_epc;
        self.pages_leaked += o.pages_leaked;
        if self.manager_error.is_none() {
            self.manager_error.clone_from(&o.manager_error);
        }
    }
}

/// Swap throughput over the run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Swap {
    /// Pages reloaded per second of wall time.
    pub eldu_per_second: f64,
    /// Pages written back per second of wall time.
    pub ewb_per_second: f64,
    /// MiB moved (both ways) per second.
    pub mib_per_second: f64,
}

/// The manager's page counts at one moment.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct PagesAtEnd {
    /// Free pages.
    pub free: u64,
    /// Pages on the reclaimable list.
    pub reclaimable: u64,
    /// Pages isolated by a reclaim batch.
    pub isolated: u64,
}

/// One NUMA node's EPC when the workers stopped (Linux's per-node
/// `sgx_total_bytes`, and the counts it does not export).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct NodeReport {
    /// The node.
    pub node: u16,
    /// EPC pages on the node.
    pub total_pages: u64,
    /// The node's EPC in bytes.
    pub sgx_total_bytes: u64,
    /// Pages on the node's free list.
    pub free_pages: u64,
    /// Pages allocated.
    pub in_use_pages: u64,
    /// Pages a memory failure named.
    pub poisoned_pages: u64,
    /// Poisoned pages on the node's poison list.
    pub retired_pages: u64,
    /// Allocations the node served during the whole run (the build included).
    pub allocations: u64,
}

impl From<&epc_mm::NodeCounters> for NodeReport {
    fn from(n: &epc_mm::NodeCounters) -> NodeReport {
        NodeReport {
            node: n.node.0,
            total_pages: n.total_pages,
            sgx_total_bytes: n.sgx_total_bytes,
            free_pages: n.free_pages,
            in_use_pages: n.in_use_pages,
            poisoned_pages: n.poisoned_pages,
            retired_pages: n.retired_pages,
            allocations: n.allocations,
        }
    }
}

/// Latency percentiles in nanoseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencyNs {
    /// Fault latency: from the faulting access to the completed ERESUME.
    pub fault: Percentiles,
}

/// One enclave's part of a run.
#[derive(Clone, Debug, Serialize)]
pub struct EnclaveReport {
    /// Its name in the scenario.
    pub name: String,
    /// Data pages.
    pub pages: u64,
    /// Threads.
    pub threads: u32,
    /// Accesses its threads made.
    pub accesses: u64,
    /// Seconds from the start of the run when it started: 0 for an
    /// enclave there from the start, the time of its `start_enclave` event
    /// otherwise; `None` if the run ended before it.
    pub started_at: Option<f64>,
    /// Seconds from the start of the run when a `stop_enclave` event
    /// destroyed it, if one did.
    pub stopped_at: Option<f64>,
    /// Why it could not run (no memory for it), if it could not. Not an
    /// error of the run: the others go on, and the run still succeeds.
    pub failed: Option<String>,
    /// Whether the enclave layer killed it (a `stop_enclave` is not a
    /// kill).
    pub killed: bool,
    /// The kind of the reason, if it was: `memory_failure`, `epc_lost`,
    /// `integrity`, `write_back`, `reload` or `destroyed`
    /// (`KillReason::kind`).
    pub kill_kind: Option<String>,
    /// Why, if it was.
    pub kill_reason: Option<String>,
    /// How many times it was rebuilt after a `suspend` lost the EPC
    /// (`restart = true`) or, for a guest enclave, after its VM's
    /// `reboot_vm`; its counters and final check are those of the latest
    /// build.
    pub restarts: u32,
    /// The error that stopped one of its threads, if any (other than
    /// `failed`, a kill, or its destruction by `stop_enclave`).
    pub error: Option<String>,
    /// Resident data pages at the end.
    pub resident_pages_at_end: u64,
    /// Bytes in the backing store at the end.
    pub backing_bytes: u64,
    /// Its own counters.
    pub counters: CounterMap,
}

/// One virtual machine of a run (the `vms` array of `report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct VmReport {
    /// Its name.
    pub name: String,
    /// Its vEPC size in pages.
    pub epc_pages: u64,
    /// Whether its vEPC was backed in full at start.
    pub prealloc: bool,
    /// The host cgroup its host pages are charged to.
    pub cgroup: String,
    /// Host EPC pages it held when the workers stopped (0 once stopped).
    pub host_pages: u64,
    /// The most host EPC pages it held at once.
    pub peak_host_pages: u64,
    /// `None` while healthy; why it failed otherwise (its start could not
    /// get its preallocated pages, SIGBUS on a vEPC page the host could
    /// not back, a poisoned host page, the host's EPC lost).
    pub failed: Option<String>,
    /// Seconds from the start of the run when it started (or tried to);
    /// `None` if the run ended first.
    pub started_at: Option<f64>,
    /// Seconds from the start of the run when a `stop_vm` stopped it.
    pub stopped_at: Option<f64>,
    /// Guest reboots (`reboot_vm`).
    pub reboots: u64,
    /// Its guest enclaves' check, as the run's `integrity` (which counts
    /// them too): pages read back, corruption, enclaves killed or lost,
    /// and its guest manager's teardown (pages still allocated after its
    /// enclaves were destroyed at the end, `validate()`).
    pub integrity: Integrity,
    /// Its guest.
    pub guest: GuestReport,
}

/// A VM's guest: its own manager's counters and its enclaves.
#[derive(Clone, Debug, Serialize)]
pub struct GuestReport {
    /// Its manager's and enclaves' counters, with the keys of the host's
    /// `counters` (see [`crate::metrics::guest_map`] for the few the
    /// machine's ledger gives the host); every boot summed, the builds
    /// included.
    pub counters: CounterMap,
    /// Its enclaves, as the host's.
    pub enclaves: Vec<EnclaveReport>,
}

/// One event of the scenario's timeline and when it happened.
#[derive(Clone, Debug, Serialize)]
pub struct EventReport {
    /// When it was due, in seconds from the start of the run.
    pub at: f64,
    /// Its kind (`start_enclave`, `stop_enclave`, ...).
    pub kind: String,
    /// The enclave it is about, if any.
    pub enclave: Option<String>,
    /// The group it is about, if any.
    pub cgroup: Option<String>,
    /// The VM it is about, if any.
    pub vm: Option<String>,
    /// What it does, in words (`enclave "x"`, `/a max 150`).
    pub detail: String,
    /// When the runner applied it, in seconds from the start; `None` if
    /// the run ended first.
    pub applied_at: Option<f64>,
    /// What it came to, where there is more to say than its kind: the EPC
    /// page a `poison` hit and what the manager did with it, how many
    /// enclaves a `suspend` lost and rebuilt.
    pub outcome: Option<String>,
}

/// Everything `epc run` found.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// Stopped early (Ctrl-C).
    pub interrupted: bool,
    /// EPC size.
    pub epc_pages: u64,
    /// ksgxd's low watermark.
    pub low_watermark: u64,
    /// ksgxd's high watermark.
    pub high_watermark: u64,
    /// ksgxd's watermark mode: `fixed` (Linux's) or `adaptive` (raised by
    /// direct reclaims, the configured ones a floor).
    pub watermarks: String,
    /// The effective low watermark when the workers stopped (the
    /// configured one plus the adaptive boost; 0 in deterministic mode).
    pub effective_low_watermark: u64,
    /// The effective high watermark when the workers stopped.
    pub effective_high_watermark: u64,
    /// The policy's name.
    pub policy: String,
    /// The manager's deterministic mode.
    pub deterministic: bool,
    /// TLB entries per logical processor.
    pub tlb_entries: u64,
    /// Seconds spent building the enclaves (not in the counters).
    pub build_seconds: f64,
    /// Seconds of the run itself.
    pub wall_seconds: f64,
    /// Modelled processor cycles of the run (the ledger's total).
    pub modelled_cycles: u64,
    /// Accesses the workloads made.
    pub accesses: u64,
    /// Accesses served by the TLBs.
    pub tlb_hits: u64,
    /// Accesses the logical processors completed.
    pub lp_accesses: u64,
    /// Counters of every layer, flat.
    pub counters: CounterMap,
    /// The hardware ledger's event counts.
    pub ledger: BTreeMap<String, u64>,
    /// Latency percentiles.
    pub latency_ns: LatencyNs,
    /// Swap throughput.
    pub swap: Swap,
    /// Backing store bytes at the end.
    pub backing_bytes: u64,
    /// The manager's page counts when the workers stopped: free,
    /// reclaimable (on the list) and isolated pages.
    pub pages_at_end: PagesAtEnd,
    /// Each NUMA node's EPC when the workers stopped, in node order.
    pub nodes: Vec<NodeReport>,
    /// The integrity check.
    pub integrity: Integrity,
    /// Per host enclave (a VM's are in its `guest`).
    pub enclaves: Vec<EnclaveReport>,
    /// Per EPC cgroup, by path (the root `/` always).
    pub cgroups: BTreeMap<String, CgroupReport>,
    /// The virtual machines, in scenario order (empty without `[[vm]]`
    /// tables).
    pub vms: Vec<VmReport>,
    /// The host's side of the VMs over the whole run, `None` without VMs:
    /// vEPC pages backed (`vepc_faults`), SIGBUS, VMs started and failed,
    /// releases (stops and reboots) with their EREMOVE passes and
    /// refusals, and the zombie list (`zombies_left` after the teardown:
    /// 0 unless a page leaked).
    pub vm_host: Option<CounterMap>,
    /// The timeline, in time order (empty without `[[event]]` tables).
    pub events: Vec<EventReport>,
    /// Enclave names, for the time series columns: the host's, then each
    /// VM's as `VM/NAME`.
    #[serde(skip)]
    pub enclave_names: Vec<String>,
    /// VM names, for the time series columns.
    #[serde(skip)]
    pub vm_names: Vec<String>,
    /// Group paths, root first, for the time series columns.
    #[serde(skip)]
    pub cgroup_paths: Vec<String>,
    /// The time series (in `timeseries.csv`, not in the JSON).
    #[serde(skip)]
    pub samples: Vec<Sample>,
}
