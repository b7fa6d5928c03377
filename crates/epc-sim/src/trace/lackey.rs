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
//! * **cut records**: when two writers share valgrind's log (a program that
//!   forks writes its child's trace into the same file), one record can be
//!   cut short and the next glued onto it, as in `I  049edb7I  049e39f0,2`.
//!   The record kinds `I`, `L`, `S`, `M` are never hexadecimal digits, so a
//!   kind letter after the start of a line begins another record: the last
//!   record of such a line is read, and every record before it on the line
//!   is counted as cut and skipped (its line end never came, so even a
//!   complete-looking address or size may be a prefix of the real one:
//!   reading it could silently give a wrong page). A line that is only
//!   the rest of a cut record (hexadecimal digits, a comma and decimal
//!   digits, as `0,3`) is counted and skipped the same way. The count is
//!   [`TraceReader::cut_records`](super::TraceReader::cut_records), and
//!   the reader prints one summary line to standard error at the end.
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

/// A line that is not one whole record: records glued together, or the
/// rest of a record cut on an earlier line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Damaged {
    /// `cut` records cut short, then a whole last record (`line`: its
    /// parse).
    Glued { cut: u64, line: LackeyLine },
    /// Only the rest of a cut record.
    Fragment,
}

/// Reads a line [`parse_line`] found `Bad` as damage from interleaved
/// writes, if it is that; `None` if it is not lackey output at all.
pub(crate) fn parse_damaged(raw: &[u8]) -> Option<Damaged> {
    let line = raw.trim_ascii();
    let is_kind = |b: u8| matches!(b, b'I' | b'L' | b'S' | b'M');
    // A record starts at a kind letter; a data record's leading space
    // belongs to it, but parse_line trims it anyway.
    let starts: Vec<usize> = line
        .iter()
        .enumerate()
        .filter(|&(i, &b)| i > 0 && is_kind(b))
        .map(|(i, _)| i)
        .collect();
    if let Some(&last) = starts.last() {
        let head_ok = is_kind(line[0]) || is_fragment(&line[..starts[0]]);
        let tail = parse_line(&line[last..]);
        if head_ok && tail != LackeyLine::Bad {
            // One piece before each start, the head included; the last
            // piece is the whole record.
            return Some(Damaged::Glued {
                cut: starts.len() as u64,
                line: tail,
            });
        }
        return None;
    }
    is_fragment(line).then_some(Damaged::Fragment)
}

/// Whether `s` could be the rest of a record cut after its kind: optional
/// spaces, hexadecimal digits, then optionally a comma and decimal digits
/// (at least one character).
fn is_fragment(s: &[u8]) -> bool {
    let s = s.trim_ascii();
    let (addr, size) = match s.iter().position(|&b| b == b',') {
        Some(c) => (&s[..c], &s[c + 1..]),
        None => (s, &b""[..]),
    };
    !s.is_empty() && addr.iter().all(u8::is_ascii_hexdigit) && size.iter().all(u8::is_ascii_digit)
}

/// Streaming reader of lackey output, emitting collapsed page numbers.
#[derive(Debug)]
pub(crate) struct LackeyReader<R> {
    lines: Lines<R>,
    path: PathBuf,
    last: Option<u64>,
    /// Pages of the current (straddling) access still to emit.
    pending: Option<(u64, u64)>,
    /// Records cut short by interleaved writes, skipped.
    cut: u64,
    /// The first line holding one.
    first_cut_line: Option<u64>,
}

impl<R: BufRead> LackeyReader<R> {
    pub(crate) fn new(input: R, path: PathBuf) -> Self {
        LackeyReader {
            lines: Lines::new(input),
            path,
            last: None,
            pending: None,
            cut: 0,
            first_cut_line: None,
        }
    }

    /// Records cut short by interleaved writes and skipped so far.
    pub(crate) fn cut_records(&self) -> u64 {
        self.cut
    }

    /// The line holding the first cut record, if any.
    pub(crate) fn first_cut_line(&self) -> Option<u64> {
        self.first_cut_line
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
            let parsed = match parse_line(raw) {
                LackeyLine::Bad => match parse_damaged(raw) {
                    Some(d) => {
                        self.first_cut_line.get_or_insert(no);
                        match d {
                            Damaged::Glued { cut, line } => {
                                self.cut += cut;
                                line
                            }
                            Damaged::Fragment => {
                                self.cut += 1;
                                LackeyLine::Skip
                            }
                        }
                    }
                    None => LackeyLine::Bad,
                },
                line => line,
            };
            match parsed {
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

    #[test]
    fn glued_records_keep_the_last_and_count_the_cut() {
        // Seen in a real recording: an instruction record cut after its
        // address, then a whole one.
        let raw = b"I  049edb7I  049e39f0,2\n";
        assert_eq!(parse_line(raw), LackeyLine::Bad);
        assert_eq!(
            parse_damaged(raw),
            Some(Damaged::Glued {
                cut: 1,
                line: LackeyLine::Skip
            })
        );
        // A data record glued after a cut one is read; a cut data record
        // is never read, even when its size looks whole.
        assert_eq!(
            parse_damaged(b" L 04a1b2c0,1 S 1fff000768,8"),
            Some(Damaged::Glued {
                cut: 1,
                line: LackeyLine::Data {
                    first: 0x1fff000768,
                    last: 0x1fff00076f
                }
            })
        );
        assert_eq!(
            parse_damaged(b"0,3I  0401ab70,3 M 04a1b2c8,8"),
            Some(Damaged::Glued {
                cut: 2,
                line: LackeyLine::Data {
                    first: 0x04a1b2c8,
                    last: 0x04a1b2cf
                }
            })
        );
        assert_eq!(parse_damaged(b"c0,4"), Some(Damaged::Fragment));
        assert_eq!(parse_damaged(b"049edb7"), Some(Damaged::Fragment));
        // Not lackey at all: still an error.
        assert_eq!(parse_damaged(b"hello L 04a1b2c0,4"), None);
        assert_eq!(parse_damaged(b"I  049edb7I  zz,2"), None);
        assert_eq!(parse_damaged(b"1.5"), None);
    }

    #[test]
    fn reader_skips_and_counts_cut_records() {
        let input =
            b"I  0401ab70,3\n L 00001000,4\nI  049edb7I  049e39f0,2\n S 00003000,8\n0,3\n L 000\
                      04ff8,16\nbogus\n";
        let mut r = LackeyReader::new(&input[..], PathBuf::from("t.lackey"));
        let mut pages = Vec::new();
        let err = loop {
            match r.next_page() {
                Ok(Some(p)) => pages.push(p),
                Ok(None) => panic!("the last line is malformed"),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(pages, [1, 3, 4, 5]);
        assert_eq!(r.cut_records(), 2);
        assert_eq!(r.first_cut_line(), Some(3));
        assert!(err.starts_with("t.lackey:7:"), "{err}");
    }
}
