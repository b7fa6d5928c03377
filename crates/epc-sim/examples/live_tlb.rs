//! How live policies fare when accessed bits are set only on TLB fills:
//! deterministic replays through the whole system at 10 % of each trace's
//! distinct pages, with no TLB (every access walks and sets the bit: equal
//! to the simulator) and with realistic TLBs, against the simulator's count.
//! `cargo run --release -p epc-sim --example live_tlb [-- TRACE...]`
//! (default: the small LIRS-suite traces).

use epc_mm::PolicyKind;
use epc_sim::offline::{simulate_with, Capacity, Drive, SimPolicy, Trace};
use epc_sim::replay::{min_epc_pages, replay, ReplayOptions};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = ["cpp", "multi2", "ps", "sprite"].map(String::from).to_vec();
    }
    // (TLB entries, deterministic mode)
    let runs = [
        (0usize, true),
        (64, true),
        (1536, true),
        (0, false),
        (1536, false),
    ];
    println!(
        "| trace | pages | policy | simulated | det. TLB 0 | det. TLB 64 | det. TLB 1536 | ksgxd TLB 0 | ksgxd TLB 1536 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for name in &names {
        let path = dir.join(format!("{name}.trace.xz"));
        let trace = Trace::load(&path)?;
        let cap = Capacity::Percent(10.0).pages(trace.distinct());
        let epc = min_epc_pages(trace.distinct() as u64) - 1 + cap as u64;
        for policy in ["clock", "clockpro", "tide"] {
            let kind = PolicyKind::from_name(policy)?;
            let mut row = Vec::new();
            let mut capacity = cap;
            for (tlb, deterministic) in runs {
                let o = ReplayOptions {
                    build: epc_sim::replay::Build::Eager,
                    epc_pages: epc as u32,
                    policy: kind,
                    tlb_entries: tlb,
                    deterministic,
                    format: None,
                };
                // A ksgxd run can fail where the replay swaps in a fresh
                // policy while ksgxd holds pages: shown as "-".
                match replay(&path, &o, &AtomicBool::new(false), &|_, _| {}) {
                    Ok(r) => {
                        capacity = r.capacity_pages as usize;
                        row.push(r.faults.to_string());
                    }
                    Err(e) if !deterministic => {
                        eprintln!("{name} {policy} ksgxd TLB {tlb}: {e}");
                        row.push("-".to_owned());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let sim = simulate_with(
                &trace,
                Capacity::Pages(capacity),
                SimPolicy::from_kind(kind),
                Drive::Live,
            );
            println!(
                "| {name} | {capacity} | {policy} | {} | {} |",
                sim.misses,
                row.join(" | ")
            );
        }
    }
    Ok(())
}
