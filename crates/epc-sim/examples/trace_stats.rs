//! Streams a trace and prints its statistics as JSON (what
//! `epc trace stats` reports): `cargo run --release -p epc-sim --example trace_stats -- TRACE`.
//! With `--count` it only counts references, to show the reader's own
//! memory use.

use epc_sim::trace::{TraceReader, TraceStats};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: trace_stats TRACE [--count]".into());
    };
    if args.iter().any(|a| a == "--count") {
        let mut n = 0u64;
        for page in TraceReader::open(path)? {
            page?;
            n += 1;
        }
        println!("{{\"refs\": {n}}}");
        return Ok(());
    }
    let stats = TraceStats::of_file(path)?;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(())
}
