//! `epc sim TRACE --capacity N --policy NAME`: the offline, single-threaded
//! policy simulator over a cache of N pages.

use super::trace::ReadArgs;
use crate::output;
use epc_sim::offline::{self, simulate_with, Capacity, Drive, SimPolicy, Trace};
use epc_sim::trace::{ReadOptions, TraceReader};
use epc_sim::SimError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
epc sim ../shared/traces/cs.trace.xz --capacity 100 --policy clock\n  \
epc sim ../shared/traces/w106.trace.xz --capacity 10% --policy tide --json\n  \
epc sim trace.txt --capacity 5% --policy opt\n  \
epc sim msr_src1.oracleGeneral.zst --page-size 4096 --capacity 10% --policy lru\n\n\
Cold misses count. --drive live feeds a live-capable policy exactly what the live\n\
manager gives it (the faulting access sets a new page's accessed bit), so its\n\
misses equal `epc replay --deterministic --tlb-entries 0` at capacity_pages;\n\
--drive textbook (the default) follows each policy's published definition\n\
(clock0, sieve and clockpro start a page with its bit clear). For fifo, clock,\n\
tide and mglru the two are the same.")]
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
    /// Cache size: pages (`4096`) or a percentage of the trace's distinct
    /// pages (`10%`, rounded down, at least 1).
    #[arg(long)]
    capacity: String,
    /// The policy; `default` is the live manager's default.
    #[arg(long, default_value = "default", long_help = policy_list())]
    policy: String,
    /// How a live-capable policy is driven: `textbook` or `live`.
    #[arg(long, default_value = "textbook")]
    drive: String,
    /// Print the whole result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

/// The policies `epc sim` and `epc mrc` know, from the one table (the
/// manager's live policies, then the simulator's offline-only ones).
pub(crate) fn policy_list() -> String {
    let live: Vec<String> = epc_mm::PolicyKind::ALL
        .iter()
        .map(|k| {
            let mut others: Vec<&str> = std::iter::once(k.name())
                .chain(k.aliases().iter().copied())
                .filter(|&n| n != k.short_name())
                .collect();
            if *k == epc_mm::PolicyKind::default() {
                others.push("default");
            }
            if others.is_empty() {
                k.short_name().to_owned()
            } else {
                format!("{} ({})", k.short_name(), others.join(", "))
            }
        })
        .collect();
    let offline: Vec<&str> = SimPolicy::all()
        .iter()
        .filter(|p| p.live_kind().is_none())
        .map(|p| p.name())
        .collect();
    format!(
        "The policy. Live (they also run in the manager): {}. Offline only: {}.",
        live.join(", "),
        offline.join(", ")
    )
}

/// An offline simulator error as the command reports it: the user's input
/// (trace, policy, capacity, output path) or a failure of ours (a plot).
pub(crate) fn offline_error(e: offline::SimError) -> SimError {
    match e {
        offline::SimError::Plot(_) => SimError::System(e.to_string()),
        _ => SimError::Input(e.to_string()),
    }
}

/// Loads a trace for simulation with the reader's options; its name is the
/// file name up to the first dot (as [`Trace::load`] names it).
pub(crate) fn load_trace(path: &Path, opts: ReadOptions) -> Result<Trace, SimError> {
    let reader = TraceReader::open_opts(path, opts).map_err(|e| SimError::Input(e.to_string()))?;
    Trace::from_reader(trace_name(path), reader).map_err(offline_error)
}

/// A trace's display name: its file name up to the first dot.
pub(crate) fn trace_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(&name)
        .to_owned()
}

pub(crate) fn parse_drive(s: &str) -> Result<Drive, SimError> {
    match s {
        "textbook" => Ok(Drive::Textbook),
        "live" => Ok(Drive::Live),
        other => Err(SimError::Input(format!(
            "--drive: unknown value {other:?} (known: textbook, live)"
        ))),
    }
}

pub(crate) fn run(a: Args) -> Result<ExitCode, SimError> {
    let policy = SimPolicy::from_name(&a.policy).map_err(offline_error)?;
    let capacity = Capacity::parse(&a.capacity).map_err(offline_error)?;
    let drive = parse_drive(&a.drive)?;
    let opts = a.read.options(a.format.as_deref(), "--format")?;
    let trace = load_trace(&a.trace, opts)?;
    let r = simulate_with(&trace, capacity, policy, drive);
    if a.json {
        output::print_json(&r)?;
    } else {
        println!(
            "{}: {} references, {} distinct pages",
            trace.name(),
            r.refs,
            r.distinct
        );
        println!(
            "policy {}, capacity {} pages: {} misses, miss ratio {:.4}",
            r.policy, r.capacity, r.misses, r.miss_ratio
        );
    }
    Ok(ExitCode::SUCCESS)
}
