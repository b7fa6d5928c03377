//! The `epc` command-line tool: a thin layer of argument parsing over
//! `epc-sim`. With no arguments it runs the built-in default scenario
//! (`epc run`). Each subcommand lives in its own file under `cmd/`.
//!
//! Exit status: 0 on success, 2 for bad input (one line on standard error),
//! 1 when the system under test failed (an integrity failure, say), 130
//! after a second Ctrl-C.

#![forbid(unsafe_code)]

mod cmd;
mod output;

use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn main() -> ExitCode {
    // A bug must still end with one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("epc: internal error: {msg}{at}");
    }));
    let cli = cmd::Cli::parse();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // The first Ctrl-C asks the run to stop and write its report; a
        // second one leaves at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nepc: interrupted, finishing (Ctrl-C again to quit at once)");
        });
    }
    match cmd::dispatch(cli, stop) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("epc: {e}");
            ExitCode::from(if e.is_interrupted() {
                130
            } else if e.is_input() {
                2
            } else {
                1
            })
        }
    }
}
