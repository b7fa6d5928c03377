//! `epc mrc TRACE --policies a,b,c --sizes LIST`: miss-ratio curves of
//! several policies over several cache sizes, in parallel over the cores,
//! with Belady's OPT drawn as the floor.

use crate::cmd::sim::offline_error;
use crate::output;
use epc_sim::offline::{mrc, Capacity, SimPolicy, Trace};
use epc_sim::SimError;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
epc mrc ../shared/traces/web12.trace.xz --policies clock,lru,tide,arc --sizes 1%,2%,5%,10%,20%,40%\n  \
epc mrc trace.txt --policies fifo,clock --sizes 64,128,256,512 --out curves --json\n\n\
Writes OUT/mrc.csv, OUT/mrc.svg and OUT/mrc.png (OUT defaults to epc-report/mrc)\n\
and prints the table. OPT is always included as the floor.")]
pub(crate) struct Args {
    /// The trace (text, lackey or binary; plain, xz, gzip or zstd).
    trace: PathBuf,
    /// Comma-separated policies.
    #[arg(long, default_value = "clock,lru,tide", long_help = crate::cmd::sim::policy_list())]
    policies: String,
    /// Comma-separated sizes: pages or percentages of the distinct pages.
    #[arg(long, default_value = "1%,2%,5%,10%,20%,40%")]
    sizes: String,
    /// Folder for the CSV and the plots.
    #[arg(long, default_value = "epc-report/mrc")]
    out: PathBuf,
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
    let trace = Trace::load(&a.trace).map_err(offline_error)?;
    let table = mrc(&trace, &policies, &sizes, a.threads);
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
