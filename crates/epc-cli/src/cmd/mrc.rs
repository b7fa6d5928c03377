//! `epc mrc TRACE --policies a,b,c --sizes LIST`: miss-ratio curves of
//! several policies over several cache sizes, in parallel over the cores,
//! with Belady's OPT drawn as the floor.

use super::sim::{load_trace, offline_error, trace_name};
use super::trace::ReadArgs;
use crate::output;
use epc_sim::offline::{self, mrc, mrc_sampled, Capacity, SampleRate, Sampled, SimPolicy};
use epc_sim::trace::TraceReader;
use epc_sim::SimError;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
epc mrc ../shared/traces/web12.trace.xz --policies clock,lru,tide,arc --sizes 1%,2%,5%,10%,20%,40%\n  \
epc mrc trace.txt --policies fifo,clock --sizes 64,128,256,512 --out curves --json\n  \
epc mrc big.oracleGeneral.zst --page-size 4096 --policies lru,clock --sample 1%\n\n\
Writes OUT/mrc.csv, OUT/mrc.svg and OUT/mrc.png (OUT defaults to epc-report/mrc)\n\
and prints the table. OPT is always included as the floor. LRU's whole curve is\n\
one pass (stack distances), exact. --sample RATE estimates every curve from a\n\
SHARDS spatial sample (pages whose id hashes below RATE), read as a stream: LRU\n\
from scaled stack distances, the others by simulating the sample at RATE x size.")]
pub(crate) struct Args {
    /// The trace (text, lackey, binary or libCacheSim's oracleGeneral;
    /// plain, xz, gzip or zstd), recognised by content.
    trace: PathBuf,
    /// The trace's format, instead of recognising it: text, lackey, binary
    /// or oracle-general.
    #[arg(long)]
    format: Option<String>,
    #[command(flatten)]
    read: ReadArgs,
    /// Comma-separated policies.
    #[arg(long, default_value = "clock,lru,tide", long_help = crate::cmd::sim::policy_list())]
    policies: String,
    /// Comma-separated sizes: pages or percentages of the distinct pages.
    #[arg(long, default_value = "1%,2%,5%,10%,20%,40%")]
    sizes: String,
    /// Folder for the CSV and the plots.
    #[arg(long, default_value = "epc-report/mrc")]
    out: PathBuf,
    /// Estimate the curves from a SHARDS spatial sample of this rate
    /// (`0.01` or `1%`), holding only the sample in memory.
    #[arg(long, value_name = "RATE")]
    sample: Option<String>,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print the whole table as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: Args) -> Result<ExitCode, SimError> {
    let policies = split(&a.policies, "--policies")?
        .into_iter()
        .map(|p| SimPolicy::from_name(p).map_err(offline_error))
        .collect::<Result<Vec<_>, _>>()?;
    let sizes = split(&a.sizes, "--sizes")?
        .into_iter()
        .map(|s| Capacity::parse(s).map_err(offline_error))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = a.read.options(a.format.as_deref(), "--format")?;
    let table = match &a.sample {
        None => mrc(&load_trace(&a.trace, opts)?, &policies, &sizes, a.threads),
        Some(rate) => {
            let rate =
                SampleRate::parse(rate).map_err(|e| SimError::Input(format!("--sample: {e}")))?;
            let reader = TraceReader::open_opts(&a.trace, opts)
                .map_err(|e| SimError::Input(e.to_string()))?;
            let sampled = match Sampled::from_pages(trace_name(&a.trace), reader, rate) {
                Err(offline::SimError::EmptyTrace) => {
                    return Err(SimError::Input(format!(
                        "--sample: no page of {} falls in a {} sample; raise the rate",
                        a.trace.display(),
                        rate.rate()
                    )))
                }
                r => r.map_err(offline_error)?,
            };
            mrc_sampled(&sampled, &policies, &sizes, a.threads)
        }
    };
    std::fs::create_dir_all(&a.out)
        .map_err(|e| SimError::Input(format!("{}: {e}", a.out.display())))?;
    let csv = a.out.join("mrc.csv");
    std::fs::write(&csv, table.to_csv())
        .map_err(|e| SimError::Input(format!("{}: {e}", csv.display())))?;
    table.write_plot(a.out.join("mrc")).map_err(offline_error)?;
    if a.json {
        output::print_json(&table)?;
    } else {
        print!("{}", table.to_table());
        println!(
            "wrote {}, {} and {}",
            csv.display(),
            a.out.join("mrc.svg").display(),
            a.out.join("mrc.png").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn split<'a>(list: &'a str, field: &str) -> Result<Vec<&'a str>, SimError> {
    let items: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(SimError::Input(format!("{field}: the list is empty")));
    }
    Ok(items)
}
