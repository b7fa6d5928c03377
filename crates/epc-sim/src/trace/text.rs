//! The text format: one unsigned decimal 64-bit page id per line.
//!
//! Rules: leading and trailing whitespace (including a `\r` of CRLF files)
//! is ignored; blank lines and lines starting with `#` are skipped; anything
//! else must be decimal digits that fit in a `u64`, or the line is
//! malformed (the error names the file and the 1-based line number).

use super::error::TraceError;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Reads lines one at a time into a reused buffer, counting them.
#[derive(Debug)]
pub(crate) struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    /// 1-based number of the line in `buf`.
    line: u64,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(input: R) -> Self {
        Lines {
            input,
            buf: Vec::with_capacity(128),
            line: 0,
        }
    }

    /// The next line (with its end-of-line bytes) and its 1-based number,
    /// `None` at the end.
    pub(crate) fn next_line(&mut self, path: &Path) -> Result<Option<(u64, &[u8])>, TraceError> {
        self.buf.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| TraceError::io(path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        Ok(Some((self.line, self.buf.as_slice())))
    }
}

/// Parses a whole decimal `u64`; `None` on any other byte or overflow.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Streaming reader of the text format.
#[derive(Debug)]
pub(crate) struct TextReader<R> {
    lines: Lines<R>,
    path: PathBuf,
}

impl<R: BufRead> TextReader<R> {
    pub(crate) fn new(input: R, path: PathBuf) -> Self {
        TextReader {
            lines: Lines::new(input),
            path,
        }
    }

    pub(crate) fn next_page(&mut self) -> Result<Option<u64>, TraceError> {
        loop {
            let Some((no, raw)) = self.lines.next_line(&self.path)? else {
                return Ok(None);
            };
            let line = raw.trim_ascii();
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            return match parse_u64(line) {
                Some(v) => Ok(Some(v)),
                None => Err(TraceError::malformed(
                    &self.path,
                    no,
                    raw,
                    "expected one unsigned decimal page id (0..=18446744073709551615)",
                )),
            };
        }
    }
}

/// Whether a (trimmed) line looks like the text format.
pub(crate) fn looks_like_text(line: &[u8]) -> bool {
    parse_u64(line).is_some()
}
