//! The simulator's error type.

use crate::trace::TraceError;
use thiserror::Error;

/// Why a simulation could not run.
#[derive(Debug, Error)]
pub enum SimError {
    /// The trace could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The trace holds no reference.
    #[error("empty trace (no page references)")]
    EmptyTrace,
    /// No policy has this name.
    #[error("unknown policy {0:?} (known: {known})", known = super::SimPolicy::names().join(", "))]
    UnknownPolicy(String),
    /// A capacity that is not a page count or a percentage.
    #[error("capacity: {0}")]
    BadCapacity(String),
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Drawing a plot failed.
    #[error("plot: {0}")]
    Plot(String),
}
