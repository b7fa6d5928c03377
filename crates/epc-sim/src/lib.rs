//! Workloads, traces, scenarios, the runner, reports and plots, and the
//! offline policy simulator: everything the `epc` command does, except
//! parsing its arguments.
//!
//! Modules:
//! * `trace`: page-reference traces: reading (text, compressed, lackey,
//!   binary) and writing, streaming;
//! * `offline`: the offline single-threaded policy simulator, Belady's OPT
//!   and miss-ratio curves;
//! * `workload`: access generators (sequential, uniform, Zipf, hot/cold,
//!   scan mixed into a hot set, phases, trace);
//! * `scenario`: scenarios from TOML (`docs/SCENARIOS.md`) and the default;
//! * `runner`: builds a scenario's system and runs it;
//! * `replay`: a trace replayed through the whole system by one thread;
//! * `metrics`, `report`, `plot`: counters, reports, the report folder and
//!   its charts.

#![forbid(unsafe_code)]

mod error;
pub mod metrics;
pub mod offline;
pub mod plot;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod trace;
pub mod workload;

pub use error::SimError;
