//! The subcommands. Adding one is a file here with an `Args` struct and a
//! `run` function, and a line in [`Command`] and in [`dispatch`].

mod mrc;
mod replay;
mod run;
mod sim;
mod trace;

use clap::{Parser, Subcommand};
use epc_sim::SimError;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// An SGX EPC manager on a software model of the SGX paging hardware.
#[derive(Debug, Parser)]
#[command(
    name = "epc",
    version,
    about = "An SGX EPC manager (the Linux driver's, in Rust) on a software model of the SGX paging hardware",
    after_help = "With no command, runs the built-in default scenario (`epc run`).\n\n\
Examples:\n  epc                                   # the default run, report in epc-report/\n  \
epc run --scenario examples/two-nodes.toml\n  \
epc replay ../shared/traces/cs.trace.xz --epc-pages 512 --deterministic --tlb-entries 0\n  \
epc trace stats ../shared/traces/cs.trace.xz\n  \
epc sim ../shared/traces/cs.trace.xz --capacity 10% --policy tide\n  \
epc mrc ../shared/traces/web12.trace.xz --policies clock,lru,tide"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario (the built-in default, or a TOML file) and write a
    /// report folder with plots.
    Run(run::Args),
    /// Replay a page-reference trace through the whole system.
    Replay(replay::Args),
    /// Trace tools: statistics, conversion, recording.
    Trace(trace::Args),
    /// Replay a trace through one policy offline (no hardware model).
    Sim(sim::Args),
    /// Miss-ratio curves of several policies, with OPT as the floor.
    Mrc(mrc::Args),
}

/// Runs the command line; the exit code on success.
pub(crate) fn dispatch(cli: Cli, stop: Arc<AtomicBool>) -> Result<ExitCode, SimError> {
    match cli.command {
        None => run::run(run::Args::default(), stop),
        Some(Command::Run(a)) => run::run(a, stop),
        Some(Command::Replay(a)) => replay::run(a, stop),
        Some(Command::Trace(a)) => trace::run(a),
        Some(Command::Sim(a)) => sim::run(a),
        Some(Command::Mrc(a)) => mrc::run(a),
    }
}
