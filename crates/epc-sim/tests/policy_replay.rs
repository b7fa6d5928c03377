//! Every live-capable policy, replayed deterministically through the whole
//! system (hardware model, manager, enclave) with no TLB, faults exactly as
//! often as the offline simulator says it misses at `capacity_pages`
//! (driven as the manager drives it: a new page's accessed bit set).

use epc_mm::PolicyKind;
use epc_sim::offline::{simulate_with, Capacity, Drive, SimPolicy, Trace};
use epc_sim::replay::{min_epc_pages, replay, ReplayOptions};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

fn shared(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../../shared/traces/{name}.trace.xz"))
}

#[test]
fn deterministic_replay_equals_the_simulator_for_every_live_policy() {
    let path = shared("cpp");
    let trace = Trace::load(&path).unwrap();
    let base = min_epc_pages(trace.distinct() as u64) as u32;
    // Every live policy of the manager's one table.
    for &kind in PolicyKind::ALL {
        let name = kind.name();
        for extra in [60u32, 200] {
            let o = ReplayOptions {
                build: epc_sim::replay::Build::Eager,
                epc_pages: base + extra,
                policy: kind,
                tlb_entries: 0,
                deterministic: true,
                format: None,
            };
            let t = std::time::Instant::now();
            let r = replay(&path, &o, &AtomicBool::new(false), &|_, _| {}).unwrap();
            eprintln!(
                "{name} +{extra}: {} faults in {:.2?}",
                r.faults,
                t.elapsed()
            );
            let sim = simulate_with(
                &trace,
                Capacity::Pages(r.capacity_pages as usize),
                SimPolicy::from_kind(kind),
                Drive::Live,
            );
            assert_eq!(
                r.faults, sim.misses,
                "{name} at {} pages: replay faults vs simulated misses",
                r.capacity_pages
            );
        }
    }
}
