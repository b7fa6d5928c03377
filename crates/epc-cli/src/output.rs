//! Printing results: one JSON object on standard output with `--json`,
//! and the progress bar on standard error.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Prints `value` as one JSON object on standard output.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), epc_sim::SimError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| epc_sim::SimError::System(format!("JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A progress bar over `len` steps on standard error (hidden when standard
/// error is not a terminal).
pub(crate) fn bar(len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{bar:40}] {percent:>3}% {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb
}
