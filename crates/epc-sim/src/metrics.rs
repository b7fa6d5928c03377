//! The flat `counters` object of every report: one map of integers with
//! the keys the JSON contract promises (`faults`, `ewb`, `eldu`, `eblock`,
//! `etrack`, `not_tracked`, `ipis`, `aex`, `ksgxd_wakeups`,
//! `direct_reclaims`, `batches`, `second_chances`, `evicted`,
//! `alloc_failures`; SGX2's `eaug`, `eaccept`, `emodpr`, `emodt`,
//! `eremove_trim`, and `access_errors`) and more, gathered from the three
//! layers.

use epc_enclave::EnclaveCounters;
use epc_hw::{Event, LedgerSnapshot};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counters by name, sorted.
pub type CounterMap = BTreeMap<&'static str, u64>;

/// The keys every `counters` object has.
pub const REQUIRED_KEYS: [&str; 20] = [
    "faults",
    "ewb",
    "eldu",
    "eblock",
    "etrack",
    "not_tracked",
    "ipis",
    "aex",
    "ksgxd_wakeups",
    "direct_reclaims",
    "batches",
    "second_chances",
    "evicted",
    "alloc_failures",
    "eaug",
    "eaccept",
    "emodpr",
    "emodt",
    "eremove_trim",
    "access_errors",
];

/// Adds two enclaves' counters.
pub fn add_enclave(a: &EnclaveCounters, b: &EnclaveCounters) -> EnclaveCounters {
    EnclaveCounters {
        faults: a.faults + b.faults,
        eldu: a.eldu + b.eldu,
        ewb: a.ewb + b.ewb,
        eblock: a.eblock + b.eblock,
        etrack: a.etrack + b.etrack,
        not_tracked: a.not_tracked + b.not_tracked,
        prev_trk_incmpl: a.prev_trk_incmpl + b.prev_trk_incmpl,
        ipis: a.ipis + b.ipis,
        secs_evictions: a.secs_evictions + b.secs_evictions,
        secs_reloads: a.secs_reloads + b.secs_reloads,
        busy_retries: a.busy_retries + b.busy_retries,
        eremove: a.eremove + b.eremove,
        access_errors: a.access_errors + b.access_errors,
        eaug: a.eaug + b.eaug,
        eaccept: a.eaccept + b.eaccept,
        emodpr: a.emodpr + b.emodpr,
        emodt: a.emodt + b.emodt,
        eremove_trim: a.eremove_trim + b.eremove_trim,
    }
}

/// One enclave's counters, by name. `ipis` counts IPI rounds sent for it.
pub fn enclave_map(c: &EnclaveCounters) -> CounterMap {
    BTreeMap::from([
        ("faults", c.faults),
        ("eldu", c.eldu),
        ("ewb", c.ewb),
        ("eblock", c.eblock),
        ("etrack", c.etrack),
        ("not_tracked", c.not_tracked),
        ("prev_trk_incmpl", c.prev_trk_incmpl),
        ("ipis", c.ipis),
        ("secs_evictions", c.secs_evictions),
        ("secs_reloads", c.secs_reloads),
        ("busy_retries", c.busy_retries),
        ("eremove", c.eremove),
        ("access_errors", c.access_errors),
        ("eaug", c.eaug),
        ("eaccept", c.eaccept),
        ("emodpr", c.emodpr),
        ("emodt", c.emodt),
        ("eremove_trim", c.eremove_trim),
    ])
}

/// The whole system's counters: enclave events summed over enclaves,
/// the manager's events (`mm` is the difference of two snapshots where a
/// phase is left out), and the hardware ledger's exits and IPIs. `ipis` is
/// the ledger's count of IPIs delivered (one per logical processor
/// interrupted); `ipi_rounds` the enclave layer's rounds.
pub fn system_map(enc: &EnclaveCounters, mm: &MmDelta, ledger: &LedgerSnapshot) -> CounterMap {
    let mut m = enclave_map(enc);
    m.insert("ipi_rounds", enc.ipis);
    m.insert("ipis", ledger.count(Event::Ipi));
    m.insert("aex", ledger.count(Event::Aex));
    m.insert("eenter", ledger.count(Event::Eenter));
    m.insert("eexit", ledger.count(Event::Eexit));
    m.insert("eresume", ledger.count(Event::Eresume));
    m.insert("failed_leaves", ledger.count(Event::FailedLeaf));
    insert_mm(&mut m, mm);
    m
}

/// The manager's counts, by name.
fn insert_mm(m: &mut CounterMap, mm: &MmDelta) {
    m.insert("ksgxd_wakeups", mm.ksgxd_wakeups);
    m.insert("direct_reclaims", mm.direct_reclaims);
    m.insert("batches", mm.batches);
    m.insert("second_chances", mm.second_chances);
    m.insert("evicted", mm.evicted);
    m.insert("alloc_failures", mm.alloc_failures);
    m.insert("allocations", mm.allocations);
    m.insert("pages_scanned", mm.pages_scanned);
    m.insert("skipped", mm.skipped);
    m.insert("declined", mm.declined);
    m.insert("write_failures", mm.write_failures);
    m.insert("ksgxd_evicted", mm.ksgxd_evicted);
    m.insert("throttled", mm.throttled);
    m.insert("assisted", mm.assisted);
    m.insert("assisted_evicted", mm.assisted_evicted);
}

/// A guest's counters: its enclaves' events summed, and its own
/// manager's (`mm`), with the keys of [`system_map`]. The hardware ledger
/// is the machine's, shared by host and guests, so the keys it gives the
/// host come here from the guest's own enclave layer: `ipis` and
/// `ipi_rounds` are the IPI rounds its enclaves sent, `aex` its faults (each
/// leaves the enclave once); `eenter`, `eexit`, `eresume` and
/// `failed_leaves` are the machine's and only in the host's map.
pub fn guest_map(enc: &EnclaveCounters, mm: &MmDelta) -> CounterMap {
    let mut m = enclave_map(enc);
    m.insert("ipi_rounds", enc.ipis);
    m.insert("aex", enc.faults);
    insert_mm(&mut m, mm);
    m
}

/// The host's side of the VMs (`vm_host` in the report), by name, and
/// the pages still on its zombie list (`zombies_left`).
pub fn host_vm_map(c: &epc_vm::HostVmCounters, zombies_left: usize) -> CounterMap {
    BTreeMap::from([
        ("vepc_faults", c.vepc_faults),
        ("vepc_busy_retries", c.vepc_busy_retries),
        ("sigbus", c.sigbus),
        ("vms_started", c.vms_started),
        ("vms_failed", c.vms_failed),
        ("releases", c.releases),
        ("eremove_first_pass", c.eremove_first_pass),
        ("eremove_second_pass", c.eremove_second_pass),
        ("child_present", c.child_present),
        ("enclave_act", c.enclave_act),
        ("zombies_added", c.zombies_added),
        ("zombies_retried", c.zombies_retried),
        ("zombies_freed", c.zombies_freed),
        ("zombies_left", zombies_left as u64),
    ])
}

/// The manager's event counters, as differences.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct MmDelta {
    /// ksgxd wake-ups.
    pub ksgxd_wakeups: u64,
    /// Direct reclaims.
    pub direct_reclaims: u64,
    /// Reclaim batches.
    pub batches: u64,
    /// Pages given a second chance.
    pub second_chances: u64,
    /// Pages evicted.
    pub evicted: u64,
    /// Failed allocations of every kind.
    pub alloc_failures: u64,
    /// Allocations.
    pub allocations: u64,
    /// Pages scanned by the policy.
    pub pages_scanned: u64,
    /// Victims skipped (owner gone).
    pub skipped: u64,
    /// Victims declined by their owner.
    pub declined: u64,
    /// Write-backs that failed.
    pub write_failures: u64,
    /// Pages ksgxd evicted (the rest of `evicted` was direct reclaim).
    pub ksgxd_evicted: u64,
    /// Allocations that waited for ksgxd (the `throttled` watermarks).
    pub throttled: u64,
    /// Reclaim batches run by faulting threads helping ksgxd (the
    /// `assisted` watermarks), and the pages they evicted.
    pub assisted: u64,
    /// See `assisted`.
    pub assisted_evicted: u64,
}

impl MmDelta {
    /// Adds `o`'s counts (the counters of a guest's boots, one after the
    /// other).
    pub fn add(&mut self, o: &MmDelta) {
        self.ksgxd_wakeups += o.ksgxd_wakeups;
        self.direct_reclaims += o.direct_reclaims;
        self.batches += o.batches;
        self.second_chances += o.second_chances;
        self.evicted += o.evicted;
        self.alloc_failures += o.alloc_failures;
        self.allocations += o.allocations;
        self.pages_scanned += o.pages_scanned;
        self.skipped += o.skipped;
        self.declined += o.declined;
        self.write_failures += o.write_failures;
        self.ksgxd_evicted += o.ksgxd_evicted;
        self.throttled += o.throttled;
        self.assisted += o.assisted;
        self.assisted_evicted += o.assisted_evicted;
    }

    /// `now - before`.
    pub fn between(before: &epc_mm::Counters, now: &epc_mm::Counters) -> MmDelta {
        let fail = |c: &epc_mm::Counters| {
            c.alloc_failures.no_memory + c.alloc_failures.busy + c.alloc_failures.interrupted
        };
        MmDelta {
            ksgxd_wakeups: now.ksgxd_wakeups - before.ksgxd_wakeups,
            direct_reclaims: now.direct_reclaims - before.direct_reclaims,
            batches: now.batches - before.batches,
            second_chances: now.second_chances - before.second_chances,
            evicted: now.evicted - before.evicted,
            alloc_failures: fail(now) - fail(before),
            allocations: now.allocations - before.allocations,
            pages_scanned: now.pages_scanned - before.pages_scanned,
            skipped: now.skipped - before.skipped,
            declined: now.declined - before.declined,
            write_failures: now.write_failures - before.write_failures,
            ksgxd_evicted: now.ksgxd_evicted - before.ksgxd_evicted,
            throttled: now.throttled - before.throttled,
            assisted: now.assisted - before.assisted,
            assisted_evicted: now.assisted_evicted - before.assisted_evicted,
        }
    }
}

/// Percentiles of a latency histogram in nanoseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// From a histogram (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// An empty latency histogram (1 ns to 60 s, 3 significant digits), as
/// the enclave threads keep.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| {
        // The bounds are constants that hdrhistogram accepts.
        unreachable!("valid histogram bounds")
    })
}
