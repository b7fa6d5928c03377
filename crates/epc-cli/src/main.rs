//! The `epc` command-line tool. The runner and the commands arrive with the
//! `epc-sim` layer; until then this binary says so and exits non-zero.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "epc: the runner is not yet available; this build has the hardware model (epc-hw) \
         and the EPC manager (epc-mm) as libraries. Run `cargo test --workspace` to exercise them."
    );
    ExitCode::from(2)
}
