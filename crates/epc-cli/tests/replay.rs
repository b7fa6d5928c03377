//! `epc replay`: the JSON contract, and exactness: in deterministic mode
//! with no TLB the faults equal the misses of textbook FIFO and CLOCK
//! (written here independently of the manager) at `capacity_pages`.

mod common;

use common::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

fn read_trace(p: &Path) -> Vec<u64> {
    epc_sim::trace::TraceReader::open(p)
        .expect("opens")
        .map(|x| x.expect("reads"))
        .collect()
}

/// FIFO: on a miss with a full cache, evict the oldest insertion.
fn fifo_misses(trace: &[u64], cap: usize) -> u64 {
    let (mut q, mut set, mut misses) = (VecDeque::new(), HashSet::new(), 0);
    for &x in trace {
        if set.contains(&x) {
            continue;
        }
        misses += 1;
        if q.len() == cap {
            let old = q.pop_front().expect("full");
            set.remove(&old);
        }
        q.push_back(x);
        set.insert(x);
    }
    misses
}

/// CLOCK (second chance): a page brought in has its bit set, a hit sets
/// it; the scan clears a set bit and moves the page to the tail, and
/// evicts the first page whose bit is clear.
fn clock_misses(trace: &[u64], cap: usize) -> u64 {
    let (mut q, mut bit, mut misses) = (VecDeque::new(), HashMap::new(), 0);
    for &x in trace {
        if let Some(b) = bit.get_mut(&x) {
            *b = true;
            continue;
        }
        misses += 1;
        if q.len() == cap {
            loop {
                let y = q.pop_front().expect("full");
                if bit[&y] {
                    bit.insert(y, false);
                    q.push_back(y);
                } else {
                    bit.remove(&y);
                    break;
                }
            }
        }
        q.push_back(x);
        bit.insert(x, true);
    }
    misses
}

#[test]
fn textbook_models_agree_on_a_known_string() {
    // Belady's anomaly string: FIFO with 3 frames misses 9 times.
    let s = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
    assert_eq!(fifo_misses(&s, 3), 9);
    assert_eq!(fifo_misses(&s, 4), 10);
    // CLOCK on a loop that fits hits after the first pass.
    assert_eq!(clock_misses(&[1, 2, 3, 1, 2, 3], 3), 3);
    assert_eq!(clock_misses(&[1, 2, 3, 4, 1], 3), 5);
}

fn replay(trace: &Path, epc_pages: u32, policy: &str) -> serde_json::Value {
    json(epc().args([
        "replay",
        trace.to_str().expect("utf-8 path"),
        "--epc-pages",
        &epc_pages.to_string(),
        "--policy",
        policy,
        "--deterministic",
        "--tlb-entries",
        "0",
        "--json",
    ]))
}

#[test]
fn deterministic_replay_equals_textbook_fifo_and_clock() {
    let mut checked = 0;
    for (name, epc_pages) in [
        ("cpp", 400),
        ("multi1", 600),
        ("backf", 300),
        ("ps", 1000),
        ("cs", 900),
        ("gli", 700),
    ] {
        let Some(path) = shared_trace(name) else {
            continue;
        };
        let trace = read_trace(&path);
        for policy in ["fifo", "clock"] {
            let v = replay(&path, epc_pages, policy);
            let cap = v["capacity_pages"].as_u64().expect("capacity_pages") as usize;
            let faults = v["faults"].as_u64().expect("faults");
            let want = if policy == "fifo" {
                fifo_misses(&trace, cap)
            } else {
                clock_misses(&trace, cap)
            };
            assert_eq!(faults, want, "{name} {policy} capacity {cap}");
            assert_eq!(
                v["eldu"].as_u64(),
                Some(faults),
                "starts cold: faults = eldu"
            );
            assert_eq!(v["refs"].as_u64(), Some(trace.len() as u64));
            checked += 1;
        }
    }
    assert!(checked > 0, "no shared trace found");
}

#[test]
fn lazy_build_faults_equal_textbook_misses_cold_ones_by_eaug() {
    let mut checked = 0;
    for (name, epc_pages) in [("cpp", 400), ("backf", 300), ("cs", 900)] {
        let Some(path) = shared_trace(name) else {
            continue;
        };
        let trace = read_trace(&path);
        let distinct = trace.iter().collect::<HashSet<_>>().len() as u64;
        let run = |build: &str| {
            json(epc().args([
                "replay",
                path.to_str().expect("utf-8 path"),
                "--epc-pages",
                &epc_pages.to_string(),
                "--policy",
                "fifo",
                "--deterministic",
                "--tlb-entries",
                "0",
                "--build",
                build,
                "--json",
            ]))
        };
        let (lazy, eager) = (run("lazy"), run("eager"));
        assert_eq!(lazy["build"], "lazy");
        let cap = lazy["capacity_pages"].as_u64().expect("capacity") as usize;
        assert_eq!(lazy["capacity_pages"], eager["capacity_pages"], "{name}");
        let faults = lazy["faults"].as_u64().expect("faults");
        assert_eq!(faults, fifo_misses(&trace, cap), "{name} capacity {cap}");
        assert_eq!(faults, eager["faults"].as_u64().unwrap(), "{name}");
        let c = &lazy["counters"];
        assert_eq!(c["eaug"].as_u64(), Some(distinct), "{name}: cold misses");
        assert_eq!(c["eaccept"].as_u64(), Some(distinct), "{name}");
        assert_eq!(
            lazy["eldu"].as_u64(),
            Some(faults - distinct),
            "{name}: the other misses reload"
        );
        assert_eq!(lazy["corrupt_reads"], 0);
        assert_eq!(c["access_errors"], 0);
        // The lazy build adds two pages instead of every page: cheaper.
        let (lb, eb) = (
            lazy["build_cycles"].as_u64().unwrap(),
            eager["build_cycles"].as_u64().unwrap(),
        );
        assert!(lb > 0 && lb < eb, "{name}: build {lb} vs {eb}");
        checked += 1;
    }
    assert!(checked > 0, "no shared trace found");
}

#[test]
fn replay_json_contract_with_ksgxd() {
    let dir = scratch("replay_contract");
    let trace = dir.join("t.txt");
    let text: String = (0..3000u64)
        .map(|i| format!("{}\n", (i * 7919) % 700 + 1_000_000))
        .collect();
    std::fs::write(&trace, text).expect("write");
    let v = json(epc().args([
        "replay",
        trace.to_str().unwrap(),
        "--epc-pages",
        "300",
        "--json",
    ]));
    for k in [
        "refs",
        "distinct",
        "capacity_pages",
        "faults",
        "ewb",
        "eldu",
        "policy",
        "epc_pages",
        "build",
        "build_cycles",
        "modelled_cycles",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {v}");
    }
    check_counters(&v["counters"]);
    assert_eq!(v["refs"], 3000);
    assert_eq!(v["distinct"], 700);
    assert_eq!(v["epc_pages"], 300);
    assert_eq!(v["policy"], "tide", "the default policy");
    let mean = v["mean_resident_pages"].as_f64().expect("mean");
    assert!(
        mean > 0.0 && mean <= v["capacity_pages"].as_f64().unwrap(),
        "{v}"
    );
    assert!(v["faults"].as_u64().unwrap() >= 700);
}

/// Every shared trace (the large ones too) at two EPC sizes: run by
/// `scripts/replay-exactness.sh` in release mode, not by `cargo test`.
#[test]
#[ignore = "large traces: run scripts/replay-exactness.sh (release build)"]
fn large_traces_equal_textbook_fifo_and_clock() {
    let names = std::env::var("EPC_TRACES").unwrap_or_else(|_| {
        "2_pools backf cpp cs gli loop multi1 multi2 multi3 ps scan sprite zigzag web12 orm-busy w106"
            .into()
    });
    let mut checked = 0;
    for name in names.split_whitespace() {
        let Some(path) = shared_trace(name) else {
            eprintln!("{name}: not found, skipped");
            continue;
        };
        let trace = read_trace(&path);
        let distinct = trace.iter().collect::<HashSet<_>>().len() as u64;
        for div in [10, 2] {
            let overhead = (distinct + 3).div_ceil(512) + 3;
            let epc_pages = (distinct / div).max(16) + overhead;
            for policy in ["fifo", "clock"] {
                let start = std::time::Instant::now();
                let v = replay(&path, epc_pages as u32, policy);
                let cap = v["capacity_pages"].as_u64().unwrap() as usize;
                let faults = v["faults"].as_u64().unwrap();
                let want = if policy == "fifo" {
                    fifo_misses(&trace, cap)
                } else {
                    clock_misses(&trace, cap)
                };
                eprintln!(
                    "{name}: {policy} capacity {cap}: faults {faults}, textbook {want} ({:.1} s)",
                    start.elapsed().as_secs_f64()
                );
                assert_eq!(faults, want, "{name} {policy} capacity {cap}");
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no shared trace found");
}
