//! The runner: builds a scenario's system, runs its threads while sampling
//! a time series, checks every page at the end, and returns the
//! [`crate::report::RunReport`].
//!
//! The counters in the report cover the run alone: the enclave counters
//! are reset and the manager and ledger snapshotted after the build of the
//! enclaves there from the start (an enclave started by a timeline event is
//! built during the run, and its build counts), and the final integrity
//! check comes after the last snapshot.

mod finish;
mod groups;
mod heap;
mod sample;
mod slot;
mod system;
mod timeline;
mod vm;
mod worker;

use crate::metrics::{self, MmDelta, Percentiles};
use crate::report::{
    GuestReport, Integrity, LatencyNs, NodeReport, PagesAtEnd, RunReport, Swap, VmReport,
};
use crate::scenario::Scenario;
use crate::SimError;
use slot::{RunContext, Slot};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timeline::{Timeline, World};

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
    let groups = Arc::new(groups::Groups::create(&mm, s)?);
    let tell = |p: Progress| {
        if let Some(f) = &opts.progress {
            f(p);
        }
    };
    let mut ctx = RunContext {
        machine: machine.clone(),
        mm: mm.clone(),
        stop: opts.stop.clone(),
        accesses: Arc::new(AtomicU64::new(0)),
        start: Instant::now(),
        deadline: None,
        groups: groups.clone(),
    };
    // Every enclave's slot: the host's (numbered as in the scenario, as
    // events name them), then each VM's.
    let mut slots: Vec<Arc<Slot>> = s
        .enclaves
        .iter()
        .enumerate()
        .map(|(i, spec)| Arc::new(Slot::new(i, spec.clone(), slot::Home::Host)))
        .collect();
    let mut vms: Vec<Arc<vm::VmSlot>> = Vec::new();
    for (i, spec) in s.vms.iter().enumerate() {
        let v = vm::VmSlot::new(i, spec, slots.len(), &groups)?;
        slots.extend(v.guests.iter().cloned());
        vms.push(Arc::new(v));
    }
    let host = (!vms.is_empty()).then(|| epc_vm::Host::new(machine.clone(), mm.clone()));

    // Start the VMs there from the start (QEMU preallocates before the
    // host's enclaves come), then build the enclaves there from the start,
    // the host's and those of the VMs that started; the others are built
    // when their `start_enclave` or `start_vm` event comes.
    let build_start = Instant::now();
    let mut at_start: Vec<usize> = (0..s.enclaves.len())
        .filter(|&i| s.start_at(i).is_none())
        .collect();
    for (i, v) in vms.iter().enumerate() {
        if s.vm_start_at(i).is_none() {
            if let Some(h) = &host {
                // A VM that cannot start is reported as failed.
                v.start(h, 0.0)?;
            }
            at_start.extend(v.started_guests(0.0).iter().map(|g| g.index));
        }
    }
    let total_pages: u64 = at_start.iter().map(|&i| slots[i].spec.pages).sum();
    let mut built = 0;
    for &i in &at_start {
        tell(Progress {
            phase: "build",
            elapsed: build_start.elapsed().as_secs_f64(),
            fraction: built as f64 / total_pages.max(1) as f64,
            accesses: 0,
            faults: 0,
            free_pages: mm.free_pages() as u64,
        });
        slots[i].build(&slots[i].driver_ctx(&ctx))?;
        if opts.stop.load(Ordering::Relaxed) {
            return Err(SimError::Interrupted(
                "interrupted while building the enclaves".into(),
            ));
        }
        built += slots[i].spec.pages;
    }
    let build_seconds = build_start.elapsed().as_secs_f64();
    for e in slots.iter().filter_map(|s| s.enclave()) {
        e.reset_counters();
    }
    let mm0 = mm.counters();
    let ledger0 = machine.ledger().snapshot();

    // Start the workers, then follow the timeline and sample until every
    // thread is done and no enclave is still to start.
    ctx.start = Instant::now();
    ctx.deadline = s
        .duration_seconds
        .map(|d| ctx.start + Duration::from_secs_f64(d));
    let start = ctx.start;
    let mut world = World {
        ctx: ctx.clone(),
        slots: slots.clone(),
        drivers: Vec::new(),
        results: Vec::new(),
        host: host.clone(),
        vms: vms.clone(),
    };
    // A VM that failed during the build (SIGBUS while its enclaves were
    // built) gives its pages back before any thread runs.
    for v in &vms {
        v.watch(&mut world)?;
    }
    for &i in &at_start {
        if matches!(slots[i].home, slot::Home::Host) {
            slots[i].mark_started(0.0);
        }
        world
            .drivers
            .push((i, slot::spawn_driver(slots[i].clone(), ctx.clone(), false)?));
    }
    let mut timeline = Timeline::new(&s.events);
    let expected = expected_seconds(s);
    let expected_accesses = expected_accesses(s);
    let sample_every = Duration::from_millis(s.sample_ms);
    let mut sampler = sample::Sampler::new(start, mm0.evicted);
    sampler.take(&mm, &slots, &groups, &vms);
    let mut next = sample_every;
    loop {
        let now = start.elapsed();
        let stopped = opts.stop.load(Ordering::Relaxed);
        if !stopped {
            timeline.apply_due(now.as_secs_f64(), &mut world)?;
        }
        for v in &vms {
            if stopped {
                v.home.halt.store(true, Ordering::Relaxed);
            }
            v.watch(&mut world)?;
        }
        let running = world.drivers.iter().any(|(_, h)| !h.is_finished());
        if !running && (stopped || !timeline.start_pending(s.duration_seconds)) {
            break;
        }
        if now < next {
            let until_event = timeline.next_at().map_or(Duration::MAX, |t| {
                Duration::from_secs_f64(t).saturating_sub(now)
            });
            std::thread::sleep((next - now).min(until_event).min(Duration::from_millis(20)));
            continue;
        }
        next += sample_every;
        let (faults, free) = sampler.take(&mm, &slots, &groups, &vms);
        let done = ctx.accesses.load(Ordering::Relaxed);
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
    let mut results = std::mem::take(&mut world.results);
    for (_, h) in world.drivers {
        results.extend(
            h.join()
                .map_err(|_| SimError::system("an enclave driver thread panicked"))??,
        );
    }
    sampler.take(&mm, &slots, &groups, &vms);
    let samples = sampler.samples;
    let wall_seconds = start.elapsed().as_secs_f64();
    let mm1 = mm.counters();
    let ledger = machine.ledger().snapshot().since(&ledger0);
    let host_slots = &slots[..s.enclaves.len()];
    let enc_total = sample::sum_counters(host_slots);
    let mmd = MmDelta::between(&mm0, &mm1);
    let counters = metrics::system_map(&enc_total, &mmd, &ledger);

    let mut latency = metrics::latency_histogram();
    for r in &results {
        let _ = latency.add(&r.latency);
    }
    let backing_bytes: u64 = host_slots
        .iter()
        .filter_map(|s| s.enclave())
        .map(|e| e.usage().backing_bytes)
        .sum();
    let interrupted = opts.stop.load(Ordering::Relaxed);

    // Integrity: read every page back (not counted above).
    tell(Progress {
        phase: "verify",
        elapsed: 0.0,
        fraction: 0.0,
        accesses: ctx.accesses.load(Ordering::Relaxed),
        faults: enc_total.faults,
        free_pages: mm.free_pages() as u64,
    });
    let cgroups = groups.report(&mm, host_slots);
    let vm_ends: Vec<vm::VmAtEnd> = vms.iter().map(|v| v.at_end()).collect();
    let mut integrity = Integrity::default();
    let reports = finish::check_and_report(host_slots, &results, &samples, &mut integrity);
    let mut guests = Vec::new();
    for v in &vms {
        let mut own = Integrity::default();
        let enclaves = finish::check_and_report(&v.guests, &results, &samples, &mut own);
        guests.push((own, enclaves));
    }
    for e in host_slots.iter().filter_map(|s| s.enclave()) {
        e.destroy();
    }
    let mut vm_reports = Vec::new();
    for ((v, end), (mut own, enclaves)) in vms.iter().zip(vm_ends).zip(guests) {
        v.shut_down(&mut own);
        finish::conclude(&mut own);
        integrity.absorb(&own);
        vm_reports.push(VmReport {
            name: v.spec.name.clone(),
            epc_pages: u64::from(v.spec.epc_pages),
            prealloc: v.spec.prealloc,
            cgroup: v.spec.cgroup.clone(),
            host_pages: end.host_pages,
            peak_host_pages: end.peak_host_pages,
            failed: end.failed,
            started_at: end.started_at,
            stopped_at: end.stopped_at,
            reboots: end.reboots,
            integrity: own,
            guest: GuestReport {
                counters: metrics::guest_map(&sample::sum_counters(&v.guests), &end.mm),
                enclaves,
            },
        });
    }
    let vm_host = host
        .as_ref()
        .map(|h| metrics::host_vm_map(&h.counters(), h.zombie_secs()));
    mm.shutdown();
    finish::check_teardown(&mm, &mut integrity);
    finish::conclude(&mut integrity);

    let eldu = counters.get("eldu").copied().unwrap_or(0);
    let ewb = counters.get("ewb").copied().unwrap_or(0);
    let lp_accesses: u64 = results.iter().map(|r| r.lp.accesses).sum();
    let tlb_hits: u64 = results.iter().map(|r| r.lp.tlb_hits).sum();
    Ok(RunReport {
        scenario: s.name.clone(),
        interrupted,
        epc_pages: s.epc_pages(),
        low_watermark: s.manager.low_watermark as u64,
        high_watermark: s.manager.high_watermark as u64,
        watermarks: mm1.watermarks.name().to_owned(),
        effective_low_watermark: mm1.low_watermark,
        effective_high_watermark: mm1.high_watermark,
        policy: s.manager.policy.name().to_owned(),
        deterministic: s.manager.deterministic,
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
        cgroups,
        vms: vm_reports,
        vm_host,
        events: finish::event_reports(s, timeline.applied(), timeline.outcomes()),
        enclave_names: slots
            .iter()
            .map(|x| match &x.home {
                slot::Home::Host => x.spec.name.clone(),
                slot::Home::Guest(_) => format!(
                    "{}/{}",
                    vms.iter()
                        .find(|v| v.guests.iter().any(|g| g.index == x.index))
                        .map_or("?", |v| v.spec.name.as_str()),
                    x.spec.name
                ),
            })
            .collect(),
        vm_names: s.vms.iter().map(|v| v.name.clone()).collect(),
        cgroup_paths: groups.paths().to_vec(),
        samples,
    })
}

/// Every enclave of `s` with when it starts (host enclaves by their
/// `start_enclave`, guest enclaves with their VM).
fn starts(s: &Scenario) -> impl Iterator<Item = (&crate::scenario::EnclaveSpec, f64)> {
    let host = s
        .enclaves
        .iter()
        .enumerate()
        .map(|(i, e)| (e, s.start_at(i).unwrap_or(0.0)));
    let guests = s.vms.iter().enumerate().flat_map(|(i, v)| {
        let at = s.vm_start_at(i).unwrap_or(0.0);
        v.enclaves.iter().map(move |e| (e, at))
    });
    host.chain(guests)
}

/// How long the run should take, if any workload is timed: the latest end
/// of a timed workload, counted from its enclave's start.
fn expected_seconds(s: &Scenario) -> Option<f64> {
    let longest = starts(s)
        .filter_map(|(e, at)| match e.workload.length {
            crate::workload::Length::Seconds(x) => Some(x + at),
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
    s.all_enclaves()
        .try_fold(0u64, |sum, e| match e.workload.length {
            crate::workload::Length::Accesses(n) => {
                Some(sum.saturating_add(n.saturating_mul(u64::from(e.threads))))
            }
            crate::workload::Length::Seconds(_) => None,
        })
}
