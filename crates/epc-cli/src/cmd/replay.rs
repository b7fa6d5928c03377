//! `epc replay TRACE`: a trace replayed through the whole system by one
//! thread of one enclave.

use crate::output;
use epc_mm::PolicyKind;
use epc_sim::replay::{self, Build, ReplayOptions};
use epc_sim::trace::TraceFormat;
use epc_sim::SimError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
epc replay ../shared/traces/cs.trace.xz --epc-pages 512\n  \
epc replay trace.txt --epc-pages 300 --policy fifo --deterministic --tlb-entries 0 --json\n  \
epc replay ../shared/traces/cs.trace.xz --epc-pages 512 --build lazy\n\n\
With --deterministic --tlb-entries 0 the faults equal the misses of the textbook\n\
policy (FIFO, or CLOCK for second-chance) with a cache of capacity_pages pages.")]
pub(crate) struct Args {
    /// The trace (text, lackey or binary; plain, xz, gzip or zstd).
    trace: PathBuf,
    /// EPC size in 4 KiB pages.
    #[arg(long, default_value_t = 1024)]
    epc_pages: u32,
    /// Victim policy (default, clock, second-chance, fifo, ...).
    #[arg(long, default_value = "default", long_help = format!("Victim policy, one of: {}.", epc_mm::PolicyKind::NAMES.join(", ")))]
    policy: String,
    /// TLB entries of the replaying logical processor (0: every access
    /// walks the page table and sets the accessed bit).
    #[arg(long, default_value_t = epc_hw::config::DEFAULT_TLB_ENTRIES)]
    tlb_entries: usize,
    /// Deterministic mode: no ksgxd, one victim per fault that finds no
    /// free page.
    #[arg(long)]
    deterministic: bool,
    /// The trace's format (text, lackey, binary); recognised when absent.
    #[arg(long)]
    format: Option<String>,
    /// How the enclave is built: `eager` (EADD of every page before EINIT,
    /// SGX1) or `lazy` (empty, each page added by EAUG on its first
    /// reference, SGX2's EDMM). `build_cycles` in the result is the
    /// modelled cost of the build either way.
    #[arg(long, default_value = "eager")]
    build: String,
    /// Print the whole result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: Args, stop: Arc<AtomicBool>) -> Result<ExitCode, SimError> {
    let policy = PolicyKind::from_name(&a.policy).map_err(|e| SimError::Input(e.to_string()))?;
    let format = a
        .format
        .as_deref()
        .map(TraceFormat::from_name)
        .transpose()
        .map_err(|e| SimError::Input(format!("--format: {e}")))?;
    let build = Build::from_name(&a.build).map_err(|e| SimError::Input(format!("--build: {e}")))?;
    if a.epc_pages == 0 {
        return Err(SimError::Input("--epc-pages: must be at least 1".into()));
    }
    let o = ReplayOptions {
        build,
        epc_pages: a.epc_pages,
        policy,
        tlb_entries: a.tlb_entries,
        deterministic: a.deterministic,
        format,
    };
    let bar = output::bar(1);
    bar.set_message("replaying");
    let pb = bar.clone();
    let r = replay::replay(&a.trace, &o, &stop, &move |done, total| {
        pb.set_length(total.max(1));
        pb.set_position(done);
    })?;
    bar.finish_and_clear();
    if a.json {
        output::print_json(&r)?;
    } else {
        let c = |k: &str| r.counters.get(k).copied().unwrap_or(0);
        println!(
            "{}: {} references, {} distinct pages{}",
            r.trace,
            r.refs,
            r.distinct,
            if r.interrupted { " (interrupted)" } else { "" }
        );
        println!(
            "EPC {} pages, capacity {} pages for the trace, policy {}, TLB {} entries, {}, {} build",
            r.epc_pages,
            r.capacity_pages,
            r.policy,
            r.tlb_entries,
            if r.deterministic {
                "deterministic"
            } else {
                "with ksgxd"
            },
            r.build
        );
        println!(
            "faults {} (miss ratio {:.4}), EAUG {}, ELDU {}, EWB {}, mean resident {:.1} pages",
            r.faults,
            r.miss_ratio,
            c("eaug"),
            r.eldu,
            r.ewb,
            r.mean_resident_pages
        );
        println!(
            "ETRACK {}, SGX_NOT_TRACKED {}, IPIs {}, ksgxd wake-ups {}, direct reclaims {}, second chances {}",
            c("etrack"),
            c("not_tracked"),
            c("ipis"),
            c("ksgxd_wakeups"),
            c("direct_reclaims"),
            c("second_chances")
        );
        println!(
            "fault latency p50 {:.1} µs, p99 {:.1} µs; {:.2} s wall, {} modelled cycles (build {})",
            r.latency_ns.fault.p50 as f64 / 1e3,
            r.latency_ns.fault.p99 as f64 / 1e3,
            r.wall_seconds,
            r.modelled_cycles,
            r.build_cycles
        );
    }
    Ok(if r.corrupt_reads == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
