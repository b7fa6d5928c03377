//! Swap throughput of a guest enclave paging within its vEPC against a
//! host enclave of the same size paging within a host EPC of the same
//! size, in the same run: the guest's extra cost is the translation of
//! every ENCLS operand through its frames (a gate pass and an EPT lookup)
//! and the 2-D page walk on TLB misses.
//!
//! Each side: an EPC (or vEPC, preallocated) of `EPC_PAGES` pages, the
//! same manager configuration (Linux's defaults, ksgxd), one enclave with a
//! working set twice that, one thread reading pages at random, so nearly
//! every access faults. Prints ELDU/s and fault latency p50/p99 of each,
//! medians of the runs, alternating host and guest, and the ratios.
//!
//! Run: `cargo bench -p epc-vm --bench guest_swap`. `SWAP_SECONDS` sets
//! each run's length (1 s), `SWAP_RUNS` the runs per side (3). Not run by
//! CI.

#![allow(missing_docs)]

use epc_enclave::{Enclave, EnclaveConfig, Platform};
use epc_hw::{Machine, MachineConfig, Perms, PAGE_SIZE};
use epc_mm::{EpcManager, ManagerConfig, ReclaimPermit};
use epc_vm::{Host, Vm, VmConfig};
use std::sync::Arc;
use std::time::Instant;

const EPC_PAGES: u32 = 1024; // 4 MiB

struct RunResult {
    eldu_per_sec: f64,
    p50_ns: u64,
    p99_ns: u64,
}

/// Builds the enclave on `platform` over `mm` and swaps for `seconds`.
fn swap(platform: Platform, mm: Arc<EpcManager>, seconds: f64) -> RunResult {
    let working_set = 2 * u64::from(EPC_PAGES);
    let mut permit = ReclaimPermit::new();
    let cfg = EnclaveConfig::for_pages(working_set + 2);
    let e = Enclave::create_on(platform, mm, cfg, &mut permit).unwrap();
    for i in 0..working_set {
        let mut page = [0u8; 4096];
        page[..8].copy_from_slice(&i.to_le_bytes());
        e.add_page(cfg.base.add(i * PAGE_SIZE), Perms::RW, &page, &mut permit)
            .unwrap();
    }
    let tcs = cfg.base.add(working_set * PAGE_SIZE);
    e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit).unwrap();
    e.init().unwrap();
    let mut th = e.thread().unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let eldu0 = e.counters().eldu;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = x % working_set;
            let v = th.read_u64(cfg.base.add(i * PAGE_SIZE)).unwrap();
            assert_eq!(v, i, "page {i} read back wrong");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let eldu = e.counters().eldu - eldu0;
    let h = th.fault_latency();
    RunResult {
        eldu_per_sec: eldu as f64 / secs,
        p50_ns: h.value_at_quantile(0.50),
        p99_ns: h.value_at_quantile(0.99),
    }
}

fn host_run(seconds: f64) -> RunResult {
    let machine = Machine::new(MachineConfig::with_pages(EPC_PAGES)).unwrap();
    let mm = Arc::new(EpcManager::new(ManagerConfig::with_pages(EPC_PAGES)).unwrap());
    swap(Platform::host(machine), mm, seconds)
}

fn guest_run(seconds: f64) -> RunResult {
    // A host EPC with room for the vEPC and a little more.
    let host_pages = EPC_PAGES + EPC_PAGES / 4;
    let machine = Machine::new(MachineConfig::with_pages(host_pages)).unwrap();
    let mm = Arc::new(EpcManager::new(ManagerConfig::with_pages(host_pages)).unwrap());
    let host = Host::new(machine, mm);
    let mut cfg = VmConfig::new("bench", EPC_PAGES);
    cfg.prealloc = true;
    cfg.manager = ManagerConfig::with_pages(EPC_PAGES);
    let vm = Vm::start(&host, cfg).unwrap();
    let r = swap(vm.platform(), vm.manager(), seconds);
    assert!(vm.failed().is_none());
    vm.stop();
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let seconds: f64 = std::env::var("SWAP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let runs: usize = std::env::var("SWAP_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    println!(
        "guest_swap: EPC/vEPC {EPC_PAGES} pages, working set {} pages, 1 thread, \
         {runs} runs of {seconds} s per side",
        2 * EPC_PAGES
    );
    let (mut host, mut guest) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        host.push(host_run(seconds));
        guest.push(guest_run(seconds));
    }
    let med = |v: &[RunResult], f: fn(&RunResult) -> f64| median(v.iter().map(f).collect());
    let rows = [("host ", &host), ("guest", &guest)];
    for (name, v) in rows {
        println!(
            "{name}: {:>9.0} ELDU/s  fault p50 {:>7.0} ns  p99 {:>7.0} ns",
            med(v, |r| r.eldu_per_sec),
            med(v, |r| r.p50_ns as f64),
            med(v, |r| r.p99_ns as f64),
        );
    }
    println!(
        "guest/host: ELDU/s {:.3}  p50 {:.3}  p99 {:.3}",
        med(&guest, |r| r.eldu_per_sec) / med(&host, |r| r.eldu_per_sec),
        med(&guest, |r| r.p50_ns as f64) / med(&host, |r| r.p50_ns as f64),
        med(&guest, |r| r.p99_ns as f64) / med(&host, |r| r.p99_ns as f64),
    );
}
