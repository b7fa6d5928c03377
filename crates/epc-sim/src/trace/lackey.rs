//! valgrind lackey output (`valgrind --tool=lackey --trace-mem=yes`).
//!
//! Lines look like `I  0401ab70,3` (instruction fetch), ` L 04a1b2c0,4`
//! (load), ` S 1fff000768,8` (store) and ` M 04a1b2c8,8` (modify): a kind,
//! a hexadecimal address without `0x`, a comma and a size in bytes.
//!
//! Rules, chosen to be what an accessed-bit sampler would see:
//!
//! * only data accesses (`L`, `S`, `M`) count; `I` lines are skipped, and so
//!   are valgrind's own `==pid==` and `--pid--` lines and blank lines;
//! * an access touches the 4 KiB pages `addr >> 12` through
//!   `(addr + size - 1) >> 12` (an access straddling a page boundary touches
//!   both pages, in address order);
//! * **consecutive repeats of the same page are collapsed** into one
//!   reference: a page is emitted only if it differs from the last page
//!   emitted. Instruction lines in between do not break a run. (Collapsing
//!   keeps LRU, FIFO and OPT miss counts unchanged; it changes CLOCK-like
//!   policies slightly, since a repeat would re-set a bit that is already
//!   set, which is exactly what sampling cannot see either.)
//!
//! Any other line is malformed (file and line number in the error).

use super::error::TraceError;
use super::text::Lines;
use std::io::BufRead;
use std::path::PathBuf;

/// Page size of the page ids produced (4 KiB).
pub const PAGE_SHIFT: u32 = 12;

/// One parsed lackey line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LackeyLine {
    /// A data access: first and last byte addresses.
    Data { first: u64, last: u64 },
    /// Instruction fetch, banner or blank: nothing to emit.
    Skip,
    /// Not lackey output.
    Bad,
}

/// Classifies one raw line.
pub(crate) fn parse_line(raw: &[u8]) -> LackeyLine {
    let line = raw.trim_ascii();
    if line.is_empty() || line.starts_with(b"==") || line.starts_with(b"--") {
        return LackeyLine::Skip;
    }
    let (kind, rest) = (line[0], &line[1..]);
    if !matches!(kind, b'I' | b'L' | b'S' | b'M') {
        return LackeyLine::Bad;
    }
    let rest = rest.trim_ascii_start();
    if rest.len() == line.len() - 1 {
        // No separator between the kind and the address.
        return LackeyLine::Bad;
    }
    let Some(comma) = rest.iter().position(|&b| b == b',') else {
        return LackeyLine::Bad;
    };
    let (addr, size) = (&rest[..comma], &rest[comma + 1..]);
    let Some(first) = parse_hex(addr) else {
        return LackeyLine::Bad;
    };
    let Some(size) = super::text::parse_u64(size) else {
        return LackeyLine::Bad;
    };
    if kind == b'I' {
        return LackeyLine::Skip;
    }
    let last = first.saturating_add(size.saturating_sub(1));
    LackeyLine::Data { first, last }
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    let digits = digits
        .strip_prefix(b"0x")
        .or_else(|| digits.strip_prefix(b"0X"))
        .unwrap_or(digits);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// Streaming reader of lackey output, emitting collapsed page numbers.
#[derive(Debug)]
pub(crate) struct LackeyReader<R> {
    lines: Lines<R>,
    path: PathBuf,
    last: Option<u64>,
    /// Pages of the current (straddling) access still to emit.
    pending: Option<(u64, u64)>,
}

impl<R: BufRead> LackeyReader<R> {
    pub(crate) fn new(input: R, path: PathBuf) -> Self {
        LackeyReader {
            lines: Lines::new(input),
            path,
            last: None,
            pending: None,
        }
    }

    pub(crate) fn next_page(&mut self) -> Result<Option<u64>, TraceError> {
        loop {
            if let Some((next, end)) = self.pending {
                self.pending = (next < end).then_some((next + 1, end));
                if self.last != Some(next) {
                    self.last = Some(next);
                    return Ok(Some(next));
                }
                continue;
            }
            let Some((no, raw)) = self.lines.next_line(&self.path)? else {
                return Ok(None);
            };
            match parse_line(raw) {
                LackeyLine::Skip => {}
                LackeyLine::Data { first, last } => {
                    self.pending = Some((first >> PAGE_SHIFT, last >> PAGE_SHIFT));
                }
                LackeyLine::Bad => {
                    return Err(TraceError::malformed(
                        &self.path,
                        no,
                        raw,
                        "expected a lackey line such as ` L 04a1b2c0,4`",
                    ))
                }
            }
        }
    }
}

/// Whether a line is a lackey access line (not a banner).
pub(crate) fn looks_like_lackey(line: &[u8]) -> bool {
    matches!(parse_line(line), LackeyLine::Data { .. })
        || (line.trim_ascii_start().starts_with(b"I") && parse_line(line) == LackeyLine::Skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            parse_line(b" L 04a1b2c0,4\n"),
            LackeyLine::Data {
                first: 0x04a1b2c0,
                last: 0x04a1b2c3
            }
        );
        assert_eq!(parse_line(b"I  0401ab70,3"), LackeyLine::Skip);
        assert_eq!(parse_line(b"==123== Lackey"), LackeyLine::Skip);
        assert_eq!(parse_line(b" X 0401ab70,3"), LackeyLine::Bad);
        assert_eq!(parse_line(b" L0401ab70,3"), LackeyLine::Bad);
        assert!(looks_like_lackey(b"I  0401ab70,3"));
        assert!(!looks_like_lackey(b"12345"));
    }
}
