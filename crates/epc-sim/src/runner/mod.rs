//! The runner: builds a scenario's system, runs its threads while sampling
//! a time series, checks every page at the end, and returns the
//! [`crate::report::RunReport`].
//!
//! The counters in the report cover the run alone: the enclave counters
//! are reset and the manager and ledger snapshotted after the build, and
//! the final integrity check comes after the last snapshot.

mod system;
mod worker;

use crate::metrics::{self, MmDelta, Percentiles};
use crate::report::{
    EnclaveReport, Integrity, LatencyNs, NodeReport, PagesAtEnd, RunReport, Sample, Swap,
};
use crate::scenario::Scenario;
use crate::SimError;
use epc_enclave::EnclaveCounters;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the runner tells its caller while it runs.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// What is going on: "build", "run", "verify".
    pub phase: &'static str,
    /// Seconds since the phase started.
    pub elapsed: f64,
    /// Completed fraction of the phase, 0 to 1 (an estimate).
    pub fraction: f64,
    /// Accesses so far.
    pub accesses: u64,
    /// Faults so far.
    pub faults: u64,
    /// Free EPC pages now.
    pub free_pages: u64,
}

/// How to run.
#[derive(Default)]
pub struct RunOptions {
    /// Set to stop early (Ctrl-C); the report covers what ran.
    pub stop: Arc<AtomicBool>,
    /// Called at every sample.
    pub progress: Option<Box<dyn Fn(Progress) + Send + Sync>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

/// Runs `s` and reports.
pub fn run(s: &Scenario, opts: &RunOptions) -> Result<RunReport, SimError> {
    let (machine, mm) = system::machine_and_manager(s)?;
    let tell = |p: Progress| {
        if let Some(f) = &opts.progress {
            f(p);
        }
    };
    let build_start = Instant::now();
    let stopped = || opts.stop.load(Ordering::Relaxed);
    let total_pages: u64 = s.enclaves.iter().map(|e| e.pages).sum();
    let mut enclaves = Vec::new();
    let mut built = 0;
    for (i, spec) in s.enclaves.iter().enumerate() {
        tell(Progress {
            phase: "build",
            elapsed: build_start.elapsed().as_secs_f64(),
            fraction: built as f64 / total_pages.max(1) as f64,
            accesses: 0,
            faults: 0,
            free_pages: mm.free_pages() as u64,
        });
        enclaves.push(system::build_enclave(&machine, &mm, i, spec, &stopped)?);
        built += spec.pages;
    }
    let build_seconds = build_start.elapsed().as_secs_f64();
    for e in &enclaves {
        e.reset_counters();
    }
    let mm0 = mm.counters();
    let ledger0 = machine.ledger().snapshot();

    // Start the workers.
    let deadline = s.duration_seconds.map(Duration::from_secs_f64);
    let accesses = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for (i, spec) in s.enclaves.iter().enumerate() {
        for t in 0..spec.threads {
            let job = worker::WorkerJob {
                enclave_index: i,
                enclave: enclaves[i].clone(),
                thread: t,
                pages: spec.pages,
                workload: spec.workload.clone(),
                deadline,
                stop: opts.stop.clone(),
                accesses: accesses.clone(),
            };
            let h = std::thread::Builder::new()
                .name(format!("{}-{t}", spec.name))
                .spawn(move || worker::run(job))
                .map_err(|e| SimError::system(format!("spawning a thread: {e}")))?;
            handles.push(h);
        }
    }
    let expected = expected_seconds(s);
    let expected_accesses = expected_accesses(s);
    let start = Instant::now();
    let sample_every = Duration::from_millis(s.sample_ms);
    let mut samples: Vec<Sample> = Vec::new();
    let mut last = (0u64, 0u64, 0u64, 0.0f64);
    let mut take = |samples: &mut Vec<Sample>| {
        let t = start.elapsed().as_secs_f64();
        let c = mm.counters();
        let enc = sum_counters(&enclaves);
        let resident: Vec<u64> = enclaves.iter().map(|e| e.usage().resident as u64).collect();
        let dt = (t - last.3).max(1e-9);
        let (faults, evictions, eldu) = (
            enc.faults - last.0,
            c.evicted - mm0.evicted - last.1,
            enc.eldu - last.2,
        );
        samples.push(Sample {
            t,
            free_pages: c.free_pages,
            reclaimable_pages: c.reclaimable_pages,
            faults,
            evictions,
            eldu,
            fault_rate: faults as f64 / dt,
            eviction_rate: evictions as f64 / dt,
            resident,
        });
        last = (enc.faults, c.evicted - mm0.evicted, enc.eldu, t);
        (enc.faults, c.free_pages)
    };
    take(&mut samples);
    let mut next = sample_every;
    while handles.iter().any(|h| !h.is_finished()) {
        let now = start.elapsed();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(20)));
            continue;
        }
        next += sample_every;
        let (faults, free) = take(&mut samples);
        let done = accesses.load(Ordering::Relaxed);
        let by_time = expected.map_or(0.0, |e| now.as_secs_f64() / e);
        let by_count = expected_accesses.map_or(0.0, |n| done as f64 / n as f64);
        tell(Progress {
            phase: "run",
            elapsed: now.as_secs_f64(),
            fraction: by_time.max(by_count).min(1.0),
            accesses: done,
            faults,
            free_pages: free,
        });
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(
            h.join()
                .map_err(|_| SimError::system("a workload thread panicked"))?,
        );
    }
    take(&mut samples);
    let wall_seconds = start.elapsed().as_secs_f64();
    let mm1 = mm.counters();
    let ledger = machine.ledger().snapshot().since(&ledger0);
    let enc_total = sum_counters(&enclaves);
    let per_enclave: Vec<EnclaveCounters> = enclaves.iter().map(|e| e.counters()).collect();
    let mmd = MmDelta::between(&mm0, &mm1);
    let counters = metrics::system_map(&enc_total, &mmd, &ledger);

    let mut latency = metrics::latency_histogram();
    for r in &results {
        let _ = latency.add(&r.latency);
    }
    let backing_bytes: u64 = enclaves.iter().map(|e| e.usage().backing_bytes).sum();
    let interrupted = opts.stop.load(Ordering::Relaxed);

    // Integrity: read every page back (not counted above).
    tell(Progress {
        phase: "verify",
        elapsed: 0.0,
        fraction: 0.0,
        accesses: accesses.load(Ordering::Relaxed),
        faults: enc_total.faults,
        free_pages: mm.free_pages() as u64,
    });
    let mut integrity = Integrity::default();
    let mut reports = Vec::new();
    for (i, (e, spec)) in enclaves.iter().zip(&s.enclaves).enumerate() {
        let mine: Vec<&worker::WorkerResult> = results.iter().filter(|r| r.enclave == i).collect();
        let corrupt_reads: u64 = mine.iter().map(|r| r.corrupt_reads).sum();
        integrity.corrupt_reads += corrupt_reads;
        let mut error = mine.iter().find_map(|r| r.error.clone());
        if e.killed().is_none() {
            match worker::verify(i, e, spec.pages, &mine) {
                Ok((checked, corrupt)) => {
                    integrity.pages_checked += checked;
                    integrity.corrupt += corrupt;
                }
                Err(err) => error = error.or(Some(format!("verification: {err}"))),
            }
        }
        let usage = e.usage();
        reports.push(EnclaveReport {
            name: spec.name.clone(),
            pages: spec.pages,
            threads: spec.threads,
            accesses: mine.iter().map(|r| r.accesses).sum(),
            killed: e.killed().is_some(),
            kill_reason: e.killed().map(|k| k.to_string()),
            error,
            resident_pages_at_end: samples
                .last()
                .and_then(|x| x.resident.get(i).copied())
                .unwrap_or(usage.resident as u64),
            backing_bytes: usage.backing_bytes,
            counters: metrics::enclave_map(&per_enclave[i]),
        });
    }
    integrity.enclaves_killed = reports.iter().filter(|r| r.killed).count() as u64;
    integrity.ok = integrity.corrupt == 0 && integrity.corrupt_reads == 0;
    for e in &enclaves {
        e.destroy();
    }
    mm.shutdown();

    let eldu = counters.get("eldu").copied().unwrap_or(0);
    let ewb = counters.get("ewb").copied().unwrap_or(0);
    let lp_accesses: u64 = results.iter().map(|r| r.lp.accesses).sum();
    let tlb_hits: u64 = results.iter().map(|r| r.lp.tlb_hits).sum();
    Ok(RunReport {
        scenario: s.name.clone(),
        interrupted,
        epc_pages: s.epc_pages(),
        low_watermark: s.low_watermark as u64,
        high_watermark: s.high_watermark as u64,
        policy: s.policy.name().to_owned(),
        deterministic: s.deterministic,
        tlb_entries: s.tlb_entries as u64,
        build_seconds,
        wall_seconds,
        modelled_cycles: ledger.total_cycles(),
        accesses: results.iter().map(|r| r.accesses).sum(),
        tlb_hits,
        lp_accesses,
        counters,
        ledger: ledger.iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        latency_ns: LatencyNs {
            fault: Percentiles::of(&latency),
        },
        swap: Swap {
            eldu_per_second: eldu as f64 / wall_seconds.max(1e-9),
            ewb_per_second: ewb as f64 / wall_seconds.max(1e-9),
            mib_per_second: (eldu + ewb) as f64 * 4096.0 / 1048576.0 / wall_seconds.max(1e-9),
        },
        backing_bytes,
        pages_at_end: PagesAtEnd {
            free: mm1.free_pages,
            reclaimable: mm1.reclaimable_pages,
            isolated: mm1.isolated_pages,
        },
        nodes: mm1.nodes.iter().map(NodeReport::from).collect(),
        integrity,
        enclaves: reports,
        enclave_names: s.enclaves.iter().map(|e| e.name.clone()).collect(),
        samples,
    })
}

fn sum_counters(enclaves: &[Arc<epc_enclave::Enclave>]) -> EnclaveCounters {
    enclaves.iter().fold(EnclaveCounters::default(), |a, e| {
        metrics::add_enclave(&a, &e.counters())
    })
}

/// How long the run should take, if any workload is timed.
fn expected_seconds(s: &Scenario) -> Option<f64> {
    let longest = s
        .enclaves
        .iter()
        .filter_map(|e| match e.workload.length {
            crate::workload::Length::Seconds(x) => Some(x),
            crate::workload::Length::Accesses(_) => None,
        })
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    match (longest, s.duration_seconds) {
        (Some(a), Some(d)) => Some(a.min(d)),
        (Some(a), None) => Some(a),
        (None, d) => d,
    }
}

/// How many accesses the run should make, if every workload is counted.
fn expected_accesses(s: &Scenario) -> Option<u64> {
    s.enclaves
        .iter()
        .try_fold(0u64, |sum, e| match e.workload.length {
            crate::workload::Length::Accesses(n) => {
                Some(sum.saturating_add(n.saturating_mul(u64::from(e.threads))))
            }
            crate::workload::Length::Seconds(_) => None,
        })
}
