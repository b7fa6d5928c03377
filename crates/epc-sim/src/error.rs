//! The error type of the runner, scenarios and replay: one line of text a
//! command can print as is, and whether the user's input was at fault.

use thiserror::Error;

/// Why a run, scenario or replay could not be done.
#[derive(Debug, Error)]
pub enum SimError {
    /// The user's input is wrong: a file, a field, a value, a trace. The
    /// message names what (the file, the field, the line).
    #[error("{0}")]
    Input(String),
    /// The system under test failed (an enclave operation that should not
    /// fail did): a bug in the model, not in the input.
    #[error("{0}")]
    System(String),
    /// The user interrupted the command (Ctrl-C) before it had anything to
    /// report, such as during the build (the command exits with 130, as a
    /// shell does for SIGINT).
    #[error("{0}")]
    Interrupted(String),
}

impl SimError {
    /// Whether the user's input is at fault (the command exits with 2).
    pub fn is_input(&self) -> bool {
        matches!(self, SimError::Input(_))
    }

    pub(crate) fn input(msg: impl Into<String>) -> Self {
        SimError::Input(one_line(&msg.into()))
    }

    /// Whether the user interrupted the command before it had a result.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, SimError::Interrupted(_))
    }

    pub(crate) fn system(msg: impl Into<String>) -> Self {
        SimError::System(one_line(&msg.into()))
    }
}

/// Joins the lines of a message so it prints as one.
pub(crate) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
