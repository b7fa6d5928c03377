//! SHARDS' error against the exact LRU curve on the shared traces:
//! `cargo run --release -p epc-sim --example shards_error [RATES] [TRACES]`
//! (defaults: 0.1,0.01,0.001 and every shared trace).
//!
//! For each trace and rate: the mean and the largest absolute difference
//! of miss ratio between the SHARDS estimate and the exact one-pass LRU
//! curve, over 20 sizes (5 %, 10 %, …, 100 % of the distinct pages), and
//! the sample's size. Output is a Markdown table.

use epc_sim::offline::{LruCurve, SampleRate, Sampled, Trace};
use epc_sim::trace::TraceReader;
use std::path::PathBuf;

const ALL: &[&str] = &[
    "2_pools", "backf", "cpp", "cs", "gli", "loop", "multi1", "multi2", "multi3", "ps", "scan",
    "sprite", "zigzag", "web12", "orm-busy", "w106",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rates: Vec<f64> = args
        .first()
        .map_or("0.1,0.01,0.001", |s| s.as_str())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let traces: Vec<String> = match args.get(1) {
        Some(s) => s.split(',').map(str::to_owned).collect(),
        None => ALL.iter().map(|s| (*s).to_owned()).collect(),
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    println!("| trace | refs | pages | rate | sampled refs | sampled pages | MAE | max error |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for name in &traces {
        let path = dir.join(format!("{name}.trace.xz"));
        let trace = Trace::load(&path)?;
        let exact = LruCurve::of(&trace);
        let pages: Vec<usize> = (1..=20)
            .map(|i| (trace.distinct() * i / 20).max(1))
            .collect();
        let refs = trace.len() as f64;
        for &rate in &rates {
            let r = SampleRate::new(rate)?;
            let s = match Sampled::from_pages(name.as_str(), TraceReader::open(&path)?, r) {
                Ok(s) => s,
                Err(e) => {
                    println!(
                        "| {name} | {} | {} | {rate} | — | — | {e} | |",
                        trace.len(),
                        trace.distinct()
                    );
                    continue;
                }
            };
            let est = s.lru_misses(&pages);
            let errs: Vec<f64> = pages
                .iter()
                .zip(&est)
                .map(|(&c, &m)| (m as f64 - exact.misses(c) as f64).abs() / refs)
                .collect();
            let mae = errs.iter().sum::<f64>() / errs.len() as f64;
            let max = errs.iter().cloned().fold(0.0, f64::max);
            println!(
                "| {name} | {} | {} | {rate} | {} | {} | {:.4} | {:.4} |",
                trace.len(),
                trace.distinct(),
                s.sample().len(),
                s.sample().distinct(),
                mae,
                max
            );
        }
    }
    Ok(())
}
