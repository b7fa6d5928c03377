//! `epc run`: a scenario, a progress bar, a summary table and the report
//! folder.

use crate::output;
use epc_sim::report;
use epc_sim::runner::{self, RunOptions};
use epc_sim::scenario::Scenario;
use epc_sim::SimError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Debug, Default, clap::Args)]
#[command(after_help = "Examples:\n  \
epc run                                   # built-in scenario, about 12 s\n  \
epc run --scenario examples/zipf-vs-scan.toml --out my-report\n  \
epc run --scenario examples/vms.toml      # VMs with their own vEPC, host and guest paging\n  \
epc run --duration 2 --json > result.json # short run, JSON on stdout\n\n\
The report folder holds report.json, timeseries.csv and the plots\n\
free_pages, rates, resident and cgroups (and vms when the scenario has\n\
VMs), each as .svg and .png.")]
pub(crate) struct Args {
    /// A scenario file (TOML, see docs/SCENARIOS.md); the built-in
    /// scenario when absent.
    #[arg(long, value_name = "FILE.toml")]
    scenario: Option<PathBuf>,
    /// Where to write the report folder.
    #[arg(long, value_name = "DIR", default_value = "epc-report")]
    out: PathBuf,
    /// Stop every thread after this many seconds (shortens the scenario).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Print the whole result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: Args, stop: Arc<AtomicBool>) -> Result<ExitCode, SimError> {
    let mut s = match &a.scenario {
        Some(p) => Scenario::from_file(p)?,
        None => Scenario::default_run(),
    };
    if let Some(d) = a.duration {
        if !(d.is_finite() && d > 0.0) {
            return Err(SimError::Input(format!(
                "--duration: must be positive (got {d})"
            )));
        }
        s.duration_seconds = Some(s.duration_seconds.map_or(d, |x| x.min(d)));
    }
    // `Args::default()` (no command at all) has an empty path.
    let out = if a.out.as_os_str().is_empty() {
        PathBuf::from("epc-report")
    } else {
        a.out.clone()
    };
    let bar = output::bar(1000);
    bar.set_message(format!("building {} enclaves", s.all_enclaves().count()));
    let pb = bar.clone();
    let opts = RunOptions {
        stop,
        progress: Some(Box::new(move |p| {
            pb.set_position((p.fraction * 1000.0) as u64);
            pb.set_message(match p.phase {
                "run" => format!(
                    "{:.1} s, {} accesses, {} faults, {} free pages",
                    p.elapsed, p.accesses, p.faults, p.free_pages
                ),
                "verify" => "checking every page".to_string(),
                other => format!("{other}: {} free pages", p.free_pages),
            });
        })),
    };
    let r = runner::run(&s, &opts)?;
    bar.finish_and_clear();
    let files = report::write_run_folder(&r, &out)?;
    if a.json {
        let mut v = serde_json::to_value(&r).map_err(|e| SimError::System(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("report_dir".into(), out.display().to_string().into());
            o.insert(
                "files".into(),
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        output::print_json(&v)?;
    } else {
        print!("{}", report::run_summary(&r).render());
        println!(
            "\nreport: {}/ (report.json, timeseries.csv, free_pages, rates, resident, cgroups{} .svg/.png)",
            out.display(),
            if r.vms.is_empty() { "" } else { ", vms" }
        );
    }
    Ok(if r.integrity.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
