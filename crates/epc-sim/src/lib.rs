//! Workloads, traces, scenarios, the runner, reports and plots, and the
//! offline policy simulator: everything the `epc` command does, except
//! parsing its arguments.
//!
//! Modules:
//! * `trace`: page-reference traces: reading (text, compressed, lackey,
//!   binary) and writing, streaming;
//! * `offline`: the offline single-threaded policy simulator, Belady's OPT
//!   and miss-ratio curves.
//!
//! (The runner, workloads, scenarios and reports are being built.)

#![forbid(unsafe_code)]

pub mod offline;
pub mod trace;
