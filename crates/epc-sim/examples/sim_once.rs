//! One simulation, timed from opening the trace to the result (parsing
//! included): `cargo run --release -p epc-sim --example sim_once -- TRACE POLICY CAPACITY`.
//! Prints `policy capacity misses refs seconds`; `scripts/bench_vs_libcachesim.sh`
//! uses it.

use epc_sim::offline::{simulate, Capacity, SimPolicy, Trace};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [trace, policy, capacity] = args.as_slice() else {
        return Err("usage: sim_once TRACE POLICY CAPACITY".into());
    };
    let start = Instant::now();
    let trace = Trace::load(trace)?;
    let loaded = start.elapsed().as_secs_f64();
    let r = simulate(
        &trace,
        Capacity::parse(capacity)?,
        SimPolicy::from_name(policy)?,
    );
    let total = start.elapsed().as_secs_f64();
    println!(
        "{} {} {} {} {:.3} {:.3}",
        r.policy, r.capacity, r.misses, r.refs, total, loaded
    );
    Ok(())
}
