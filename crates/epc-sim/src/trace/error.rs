//! The one error type of trace reading and writing.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// Why a trace could not be read or written. Every variant names the file
/// (or the name given to an in-memory reader), so a caller can print the
/// message as one line.
#[derive(Debug, Error)]
pub enum TraceError {
    /// Opening, reading, decompressing or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system or the decompressor said.
        source: io::Error,
    },
    /// A line of a text or lackey trace is not what the format allows.
    #[error("{}:{line}: malformed line {text:?}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The offending line (cut to 80 characters).
        text: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A binary trace is damaged (bad varint, truncated record).
    #[error("{}: corrupt binary trace at byte {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Offset in the (decompressed) stream.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The trace holds no page reference.
    #[error("{}: empty trace (no page references)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The content is in no format this module knows, or a format name is
    /// unknown.
    #[error("{}: unknown trace format: {reason}", path.display())]
    UnknownFormat {
        /// The file (empty for a bad format name).
        path: PathBuf,
        /// What was seen.
        reason: String,
    },
    /// An option that does not apply to this trace (`--page-size` on a
    /// trace of pages).
    #[error("{}: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What does not apply, and why.
        reason: String,
    },
}

impl TraceError {
    pub(crate) fn io(path: &std::path::Path, source: io::Error) -> Self {
        TraceError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn malformed(
        path: &std::path::Path,
        line: u64,
        text: &[u8],
        reason: &'static str,
    ) -> Self {
        let text = String::from_utf8_lossy(text);
        let text: String = text.trim_end().chars().take(80).collect();
        TraceError::Malformed {
            path: path.to_owned(),
            line,
            text,
            reason,
        }
    }
}
