//! Steady-state swap throughput of the whole system (hardware model, EPC
//! manager, enclave layer): threads touch a working set twice the EPC at
//! random, so nearly every access faults once the EPC is full. Pages
//! reloaded (ELDU) per second are compared with the rate of AES-128-GCM
//! seal+open pairs of 4 KiB measured with the same AEAD crate in the same
//! run, which bounds it (every reload costs one seal, for the victim, and
//! one open): once on a single cached buffer (the best case), once over as
//! many buffers as the working set (each pair streams its page from memory,
//! as a real swap does). Also prints fault latency percentiles and the
//! share of faults that reclaimed directly (direct reclaims per fault: a
//! fault that found the free lists empty because ksgxd fell behind) and,
//! on the same line, the share that ran an assist batch (a fault that
//! found the free pages below the assist mark and reclaimed a batch
//! before they ran out).
//!
//! Modes: `ksgxd` (the default watermarks, `assisted`), `ksgxd-adaptive`
//! (adaptive watermarks without assists, the default before),
//! `ksgxd-fixed` (Linux's fixed 32/64), `ksgxd-throttled` (adaptive, and
//! allocations below the low watermark wait for ksgxd) and
//! `deterministic` (no ksgxd).
//!
//! Mode `group`: the same enclave, with ksgxd, on an EPC three times as
//! large, charged to a group whose limit is the EPC size of the other
//! modes; so it is held at its group's limit (reclaim from its own list,
//! on the charge path and queued to ksgxd) while global memory stays free.
//! Set beside `ksgxd` of the same thread count, it is the cost of holding
//! an enclave by a group limit instead of by the EPC's size.
//!
//! Run: `cargo bench -p epc-enclave --bench swap` (five runs per mode,
//! medians reported). `SWAP_SECONDS` sets each run's length (2 s);
//! `SWAP_ONLY=ksgxd` (or any mode's name above, or `group`) runs one mode;
//! `SWAP_VERBOSE=1` prints the counters
//! of each run; `SWAP_WATERMARKS=LOW,HIGH` replaces Linux's 32/64 (the
//! floor, in the adaptive mode).

#![allow(missing_docs)]

use epc_enclave::{Enclave, EnclaveConfig};
use epc_hw::{LinearAddress, Machine, MachineConfig, Perms, PAGE_SIZE};
use epc_mm::{EpcManager, GroupLimits, ManagerConfig, PolicyKind, ReclaimPermit, Watermarks};
use hdrhistogram::Histogram;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const EPC_PAGES: u32 = 4096; // 16 MiB
const RUNS: usize = 5;

/// Seal+open pairs per second over `pages` distinct 4 KiB buffers in turn.
fn seal_open_rate(seconds: f64, pages: usize) -> f64 {
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[3; 16]).unwrap());
    let mut bufs = vec![[1u8; 4096]; pages];
    let aad = [0u8; 128];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..256 {
            n += 1;
            let buf = &mut bufs[(n as usize).wrapping_mul(7919) % pages];
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_le_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    buf,
                )
                .unwrap();
            key.open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                tag,
                buf,
                0..,
            )
            .unwrap();
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct RunResult {
    eldu_per_sec: f64,
    latency: Histogram<u64>,
    faults: u64,
    direct_reclaims: u64,
    /// Reclaim batches run by faulting threads below the assist mark (the
    /// default `assisted` watermarks) before the free lists ran dry.
    assisted: u64,
    /// Effective watermarks at the end of the run.
    watermarks: (u64, u64),
}

/// How the enclave is held to `EPC_PAGES` pages.
#[derive(Clone, Copy, PartialEq)]
enum Hold {
    /// By the EPC's size, with ksgxd.
    Ksgxd,
    /// By the EPC's size, reclaim only on the faulting thread.
    Deterministic,
    /// By its group's limit, in an EPC three times as large, with ksgxd.
    Group,
}

fn run(threads: u64, seconds: f64, hold: Hold, marks: Watermarks) -> RunResult {
    let epc = if hold == Hold::Group {
        3 * EPC_PAGES
    } else {
        EPC_PAGES
    };
    let machine = Machine::new(MachineConfig::with_pages(epc)).unwrap();
    let mut mcfg = ManagerConfig::with_pages(epc);
    mcfg.deterministic = hold == Hold::Deterministic;
    mcfg.watermarks = marks;
    if let Some((low, high)) = std::env::var("SWAP_WATERMARKS")
        .ok()
        .and_then(|w| w.split_once(',').map(|(l, h)| (l.parse(), h.parse())))
        .and_then(|(l, h)| Some((l.ok()?, h.ok()?)))
    {
        mcfg.low_watermark = low;
        mcfg.high_watermark = high;
    }
    let mm = Arc::new(EpcManager::new(mcfg).unwrap());
    let working_set = 2 * u64::from(EPC_PAGES);
    let mut permit = ReclaimPermit::new();
    let mut cfg = EnclaveConfig::for_pages(working_set + 2 * threads);
    if hold == Hold::Group {
        let limits = GroupLimits::max(EPC_PAGES as usize);
        cfg.group = mm
            .create_group("/bench", limits, PolicyKind::default())
            .unwrap();
    }
    let e = Enclave::create(machine.clone(), mm.clone(), cfg, &mut permit).unwrap();
    let base = cfg.base;
    for i in 0..working_set {
        let mut page = [0u8; 4096];
        page[..8].copy_from_slice(&i.to_le_bytes());
        e.add_page(base.add(i * PAGE_SIZE), Perms::RW, &page, &mut permit)
            .unwrap();
    }
    for t in 0..threads {
        let tcs = base.add((working_set + 2 * t) * PAGE_SIZE);
        e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit).unwrap();
    }
    e.init().unwrap();

    let barrier = Arc::new(Barrier::new(threads as usize + 1));
    let deadline = Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (e, barrier) = (e.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut th = e.thread().unwrap();
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                let mut next = || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % working_set
                };
                // Warm up until the EPC is full and in steady state.
                for _ in 0..working_set {
                    let i = next();
                    let v = th.read_u64(LinearAddress(base.0 + i * PAGE_SIZE)).unwrap();
                    assert_eq!(v, i);
                }
                barrier.wait();
                let faults0 = th.faults();
                let start = Instant::now();
                let hist_start = th.fault_latency().clone();
                while start.elapsed() < deadline {
                    for _ in 0..64 {
                        let i = next();
                        let v = th.read_u64(LinearAddress(base.0 + i * PAGE_SIZE)).unwrap();
                        assert_eq!(v, i);
                    }
                }
                let mut hist = th.fault_latency().clone();
                hist.subtract(&hist_start).unwrap();
                (th.faults() - faults0, start.elapsed(), hist)
            })
        })
        .collect();
    barrier.wait();
    let eldu0 = e.counters().eldu;
    let (direct0, assisted0) = {
        let c = mm.counters();
        (c.direct_reclaims, c.assisted)
    };
    let start = Instant::now();
    let mut latency = Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut faults = 0;
    for h in handles {
        let (f, _, hist) = h.join().unwrap();
        faults += f;
        latency.add(&hist).unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let eldu = e.counters().eldu - eldu0;
    let mc = mm.counters();
    if std::env::var_os("SWAP_VERBOSE").is_some() {
        eprintln!("  enclave {:?}", e.counters());
        eprintln!("  manager {:?}", mm.counters());
    }
    RunResult {
        eldu_per_sec: eldu as f64 / elapsed,
        latency,
        faults,
        direct_reclaims: mc.direct_reclaims - direct0,
        assisted: mc.assisted - assisted0,
        watermarks: (mc.low_watermark, mc.high_watermark),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this without --bench: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let seconds: f64 = std::env::var("SWAP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.2 } else { 2.0 });
    let runs = if quick { 1 } else { RUNS };
    let only = std::env::var("SWAP_ONLY").ok();
    println!(
        "swap: EPC {EPC_PAGES} pages, working set {} pages, {runs} runs of {seconds} s",
        2 * EPC_PAGES
    );
    let default = Watermarks::default();
    let modes: [(u64, Hold, Watermarks, &str); 11] = [
        (1, Hold::Ksgxd, default, "ksgxd"),
        (1, Hold::Ksgxd, Watermarks::Adaptive, "ksgxd-adaptive"),
        (1, Hold::Ksgxd, Watermarks::Fixed, "ksgxd-fixed"),
        (1, Hold::Ksgxd, Watermarks::Throttled, "ksgxd-throttled"),
        (2, Hold::Ksgxd, default, "ksgxd"),
        (2, Hold::Ksgxd, Watermarks::Adaptive, "ksgxd-adaptive"),
        (2, Hold::Ksgxd, Watermarks::Fixed, "ksgxd-fixed"),
        (2, Hold::Ksgxd, Watermarks::Throttled, "ksgxd-throttled"),
        (1, Hold::Deterministic, Watermarks::Fixed, "deterministic"),
        (1, Hold::Group, default, "group"),
        (2, Hold::Group, default, "group"),
    ];
    for (threads, hold, marks, mode) in modes {
        if only.as_deref().is_some_and(|o| o != mode) {
            continue;
        }
        let mut rates = Vec::new();
        let mut hot = Vec::new();
        let mut cold = Vec::new();
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let (mut faults, mut direct, mut shares) = (0, 0, Vec::new());
        let (mut assisted, mut assist_shares) = (0, Vec::new());
        let mut last_marks = (0, 0);
        for _ in 0..runs {
            let t = 0.5_f64.min(seconds);
            hot.push(seal_open_rate(t, 1));
            cold.push(seal_open_rate(t, 2 * EPC_PAGES as usize));
            let r = run(threads, seconds, hold, marks);
            rates.push(r.eldu_per_sec);
            latency.add(&r.latency).unwrap();
            faults += r.faults;
            direct += r.direct_reclaims;
            shares.push(r.direct_reclaims as f64 / r.faults.max(1) as f64);
            assisted += r.assisted;
            assist_shares.push(r.assisted as f64 / r.faults.max(1) as f64);
            last_marks = r.watermarks;
        }
        let (rate, hot, cold) = (median(rates), median(hot), median(cold));
        println!(
            "swap/{threads}-thread/{mode}: {rate:.0} ELDU/s (median); seal+open limit {hot:.0}/s \
             on one cached buffer (ratio {:.2}), {cold:.0}/s over the working set (ratio {:.2})",
            rate / hot,
            rate / cold
        );
        println!(
            "swap/{threads}-thread/{mode} fault latency: p50 {:.1} us, p99 {:.1} us, \
             p99.9 {:.1} us, max {:.1} us ({} faults)",
            latency.value_at_quantile(0.5) as f64 / 1e3,
            latency.value_at_quantile(0.99) as f64 / 1e3,
            latency.value_at_quantile(0.999) as f64 / 1e3,
            latency.max() as f64 / 1e3,
            latency.len()
        );
        if hold != Hold::Deterministic {
            println!(
                "swap/{threads}-thread/{mode} direct reclaim: {:.2} % of faults (median; \
                 {direct} over {faults} faults in all runs), {marks} watermarks, \
                 last run ended at {}/{}; assisted batches: {:.2} % of faults \
                 ({assisted} in all runs)",
                100.0 * median(shares),
                last_marks.0,
                last_marks.1,
                100.0 * median(assist_shares)
            );
        }
    }
}
