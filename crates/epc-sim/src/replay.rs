//! `epc replay`: one enclave whose pages are a trace's ids, replayed by one
//! thread through the whole system (hardware model, manager, enclave).
//!
//! Ids are mapped densely to enclave pages in order of first appearance
//! (a first pass over the trace; the second pass replays, so the trace is
//! streamed twice and never held). Before the replay the enclave is built
//! with every page (EADD), initialized, its thread created (pinning its
//! TCS and SSA), entered once and left, every regular page evicted, and the
//! counters reset: the replay starts cold, every first touch is an ELDU,
//! and the counters cover the replay alone.
//!
//! With [`Build::Lazy`] the enclave is built the SGX2 way instead: dynamic,
//! with only its TCS and SSA added (and VA slots reserved for every page,
//! so that the EPC left to the trace is the same as with the eager
//! build), and each page is added by EAUG on its first reference, which
//! writes its content. Cold misses are then EAUG faults, the rest ELDU.
//! `build_cycles` is the modelled cost of building and initializing the
//! enclave either way: the EDMM trade-off of a cheaper load against a
//! slower run.
//!
//! `capacity_pages` is the EPC minus what is never reclaimed during the
//! replay: the SECS (its children include the pinned TCS, so it stays),
//! every VA page, and the thread's TCS and SSA page. In deterministic mode
//! with no TLB, the faults then equal the misses of the textbook policy with
//! a cache of `capacity_pages` pages.

use crate::metrics::{self, CounterMap, MmDelta, Percentiles};
use crate::trace::{TraceFormat, TraceReader};
use crate::SimError;
use epc_enclave::{Enclave, EnclaveConfig};
use epc_hw::{LinearAddress, Machine, MachineConfig, Perms, PAGE_SIZE, VA_SLOTS_PER_PAGE};
use epc_mm::{EpcManager, ManagerConfig, PolicyKind, ReclaimPermit};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How the replay's enclave is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Build {
    /// EADD of every page before EINIT (SGX1; the default).
    #[default]
    Eager,
    /// Only the TCS and SSA before EINIT; every page added by EAUG on its
    /// first reference (SGX2, EDMM).
    Lazy,
}

impl Build {
    /// `eager` or `lazy`.
    pub fn from_name(name: &str) -> Result<Build, String> {
        match name {
            "eager" => Ok(Build::Eager),
            "lazy" => Ok(Build::Lazy),
            _ => Err(format!("unknown build {name:?} (eager, lazy)")),
        }
    }

    /// The name `from_name` takes.
    pub fn name(self) -> &'static str {
        match self {
            Build::Eager => "eager",
            Build::Lazy => "lazy",
        }
    }
}

/// How to replay.
#[derive(Clone, Copy, Debug)]
pub struct ReplayOptions {
    /// How the enclave is built.
    pub build: Build,
    /// EPC size in pages.
    pub epc_pages: u32,
    /// The manager's policy.
    pub policy: PolicyKind,
    /// TLB entries of the logical processor (0: every access walks).
    pub tlb_entries: usize,
    /// The manager's deterministic mode (no ksgxd, one victim at a time).
    pub deterministic: bool,
    /// The trace's format, or `None` to recognise it.
    pub format: Option<TraceFormat>,
}

/// What a replay found (the JSON of `epc replay --json`).
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// The trace file.
    pub trace: String,
    /// References replayed.
    pub refs: u64,
    /// Distinct pages in the trace.
    pub distinct: u64,
    /// EPC pages available to the trace's pages.
    pub capacity_pages: u64,
    /// Faults handled (accesses that brought a page in).
    pub faults: u64,
    /// Pages written back.
    pub ewb: u64,
    /// Pages reloaded.
    pub eldu: u64,
    /// Faults per reference.
    pub miss_ratio: f64,
    /// The policy's canonical name.
    pub policy: String,
    /// EPC size.
    pub epc_pages: u64,
    /// TLB entries.
    pub tlb_entries: u64,
    /// Deterministic mode.
    pub deterministic: bool,
    /// How the enclave was built (`eager` or `lazy`).
    pub build: String,
    /// Mean resident trace pages, sampled every 256 references (ksgxd keeps
    /// a band of free pages, so below `capacity_pages` when it runs).
    pub mean_resident_pages: f64,
    /// Stopped early (Ctrl-C): the counts cover what ran.
    pub interrupted: bool,
    /// Reads that found the wrong page content.
    pub corrupt_reads: u64,
    /// Seconds of the replay itself.
    pub wall_seconds: f64,
    /// Modelled cycles of the replay.
    pub modelled_cycles: u64,
    /// Modelled cycles of building and initializing the enclave (ECREATE,
    /// EPA, EADD of every page and the evictions that makes room for them,
    /// EINIT; with the lazy build only the TCS and SSA).
    pub build_cycles: u64,
    /// Fault latency.
    pub latency_ns: crate::report::LatencyNs,
    /// Counters of every layer, flat.
    pub counters: CounterMap,
}

fn trace_err(e: crate::trace::TraceError) -> SimError {
    SimError::input(e.to_string())
}

fn open(path: &Path, format: Option<TraceFormat>) -> Result<TraceReader, SimError> {
    TraceReader::open_with(path, format).map_err(trace_err)
}

/// Reads a trace and maps its ids densely, in order of first appearance,
/// modulo `pages` (for trace workloads of a scenario).
pub fn load_mapped(path: &Path, pages: u64) -> Result<Arc<[u32]>, SimError> {
    let mut map: FxHashMap<u64, u64> = FxHashMap::default();
    let mut out = Vec::new();
    for id in open(path, None)? {
        let id = id.map_err(trace_err)?;
        let n = map.len() as u64;
        let dense = *map.entry(id).or_insert(n);
        out.push((dense % pages.max(1)) as u32);
    }
    Ok(out.into())
}

/// The fewest EPC pages a replay of `distinct` pages needs: the SECS, the
/// VA pages, the TCS and SSA, and one page for the trace.
pub fn min_epc_pages(distinct: u64) -> u64 {
    let children = distinct + 2;
    1 + (children + 1).div_ceil(u64::from(VA_SLOTS_PER_PAGE)) + 2 + 1
}

/// Replays the trace at `path`. `progress(done, total)` is called now and
/// then; `stop` ends the replay early.
pub fn replay(
    path: &Path,
    o: &ReplayOptions,
    stop: &AtomicBool,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplayReport, SimError> {
    // Pass 1: the dense map.
    let mut map: FxHashMap<u64, u32> = FxHashMap::default();
    let mut refs = 0u64;
    for id in open(path, o.format)? {
        let id = id.map_err(trace_err)?;
        refs += 1;
        let n = map.len();
        if n >= u32::MAX as usize - 4 {
            return Err(SimError::input(format!(
                "{}: more distinct pages than an enclave can hold",
                path.display()
            )));
        }
        map.entry(id).or_insert(n as u32);
    }
    let distinct = map.len() as u64;
    let min = min_epc_pages(distinct);
    if u64::from(o.epc_pages) < min {
        return Err(SimError::input(format!(
            "EPC too small for the trace: --epc-pages {}, at least {min} are needed \
             (SECS, VA, TCS and SSA pages and one page for the trace)",
            o.epc_pages
        )));
    }

    // The system.
    let mut mc = MachineConfig::with_pages(o.epc_pages);
    mc.tlb_entries = o.tlb_entries;
    let machine = Machine::new(mc).map_err(|e| SimError::input(format!("--epc-pages: {e}")))?;
    let mut cfg = ManagerConfig::with_pages(o.epc_pages);
    cfg.policy = o.policy;
    cfg.deterministic = o.deterministic;
    let fixed = min - 1;
    let room = (u64::from(o.epc_pages) - fixed) as usize;
    cfg.high_watermark = (room / 8).clamp(1, 64);
    cfg.low_watermark = (room / 16).min(32).min(cfg.high_watermark - 1);
    let mm = Arc::new(EpcManager::new(cfg).map_err(|e| SimError::input(e.to_string()))?);
    let sys =
        |what: &str, e: epc_enclave::EnclaveError| SimError::system(format!("replay: {what}: {e}"));

    // The enclave: every page (eager), then the TCS and SSA after them.
    let build0 = machine.ledger().snapshot();
    let lazy = o.build == Build::Lazy;
    let mut permit = ReclaimPermit::new();
    let mut ecfg = EnclaveConfig::for_pages(distinct + 2);
    ecfg.dynamic = lazy;
    let base = ecfg.base;
    let addr = |i: u64| LinearAddress(base.0 + i * PAGE_SIZE);
    let enclave = Enclave::create(machine.clone(), mm.clone(), ecfg, &mut permit)
        .map_err(|e| sys("ECREATE", e))?;
    let mut page = Box::new([0u8; 4096]);
    for i in 0..if lazy { 0 } else { distinct } {
        if i % 4096 == 0 && stop.load(Ordering::Relaxed) {
            return Err(SimError::Interrupted(
                "interrupted while building the enclave".into(),
            ));
        }
        page[..8].copy_from_slice(&i.to_le_bytes());
        enclave
            .add_page(addr(i), Perms::RW, &page, &mut permit)
            .map_err(|e| sys("EADD", e))?;
    }
    let tcs = addr(distinct);
    enclave
        .add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit)
        .map_err(|e| sys("TCS", e))?;
    if lazy {
        enclave
            .reserve_ahead(distinct, &mut permit)
            .map_err(|e| sys("VA", e))?;
    }
    enclave.init().map_err(|e| sys("EINIT", e))?;
    let build_cycles = machine.ledger().snapshot().since(&build0).total_cycles();
    let mut th = enclave.thread().map_err(|e| sys("thread", e))?;
    if !lazy {
        // Enter once (bringing the TCS and SSA in if the build evicted
        // them), leave, then evict every regular page: the replay starts
        // cold.
        th.read_u64(addr(0)).map_err(|e| sys("warm-up", e))?;
        th.exit().map_err(|e| sys("EEXIT", e))?;
    }
    let mut seen = vec![!lazy; distinct as usize];
    // Evict every regular page and start with a fresh policy, so the start
    // is cold for adaptive policies too (they keep targets and ghosts from
    // the build). The policy can be replaced only while nothing is listed
    // or held by ksgxd; ksgxd may be finishing a batch, and a page it
    // declines goes back on the list, so evict and try again until then.
    let mut tries = 0;
    loop {
        enclave
            .evict_regular_pages(64, &mut permit)
            .map_err(|e| sys("evicting", e))?;
        match mm.replace_policy(o.policy.build()) {
            Ok(()) => break,
            Err(e) if tries >= 10_000 => {
                return Err(SimError::system(format!("resetting the policy: {e}")))
            }
            Err(_) => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }
    let usage = enclave.usage();
    let pinned = 1 + usage.va_pages as u64 + 2;
    let capacity_pages = u64::from(o.epc_pages) - pinned;

    enclave.reset_counters();
    let mm0 = mm.counters();
    let ledger0 = machine.ledger().snapshot();
    let lat0 = th.fault_latency().clone();

    // Pass 2: the replay.
    let start = Instant::now();
    let mut done = 0u64;
    let mut corrupt_reads = 0u64;
    let (mut resident_sum, mut resident_n) = (0f64, 0u64);
    let mut interrupted = false;
    for id in open(path, o.format)? {
        let id = id.map_err(trace_err)?;
        let Some(&dense) = map.get(&id) else {
            return Err(SimError::input(format!(
                "{}: the trace changed while it was replayed",
                path.display()
            )));
        };
        let a = addr(u64::from(dense));
        if seen[dense as usize] {
            let v = th.read_u64(a).map_err(|e| sys("access", e))?;
            if v != u64::from(dense) {
                corrupt_reads += 1;
            }
        } else {
            // First reference of the lazy build: EAUG, EACCEPT, and the
            // page's content written.
            th.write_u64(a, u64::from(dense))
                .map_err(|e| sys("access", e))?;
            seen[dense as usize] = true;
        }
        done += 1;
        if done % 256 == 0 {
            let free = mm.free_pages() as u64;
            resident_sum += (u64::from(o.epc_pages) - pinned).saturating_sub(free) as f64;
            resident_n += 1;
            if done % 65536 == 0 {
                progress(done, refs);
                if stop.load(Ordering::Relaxed) {
                    interrupted = true;
                    break;
                }
            }
        }
    }
    progress(done, refs);
    let wall_seconds = start.elapsed().as_secs_f64();
    let enc = enclave.counters();
    let mmd = MmDelta::between(&mm0, &mm.counters());
    let ledger = machine.ledger().snapshot().since(&ledger0);
    let counters = metrics::system_map(&enc, &mmd, &ledger);
    let mut lat = th.fault_latency().clone();
    let _ = lat.subtract(&lat0);
    drop(th);
    enclave.destroy();
    mm.shutdown();
    Ok(ReplayReport {
        trace: path.display().to_string(),
        refs: done,
        distinct,
        capacity_pages,
        faults: enc.faults,
        ewb: enc.ewb,
        eldu: enc.eldu,
        miss_ratio: enc.faults as f64 / done.max(1) as f64,
        policy: o.policy.name().to_owned(),
        epc_pages: u64::from(o.epc_pages),
        tlb_entries: o.tlb_entries as u64,
        deterministic: o.deterministic,
        build: o.build.name().to_owned(),
        mean_resident_pages: if resident_n == 0 {
            0.0
        } else {
            resident_sum / resident_n as f64
        },
        interrupted,
        corrupt_reads,
        wall_seconds,
        modelled_cycles: ledger.total_cycles(),
        build_cycles,
        latency_ns: crate::report::LatencyNs {
            fault: Percentiles::of(&lat),
        },
        counters,
    })
}
