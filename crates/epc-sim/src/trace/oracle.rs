//! libCacheSim's `oracleGeneral` binary format: reader, writer and the
//! content check that recognises it.
//!
//! # Layout
//!
//! No header, no magic: the file is a sequence of 24-byte records, packed,
//! little-endian (as written by libCacheSim's `traceConv` on x86 and read by
//! its `oracleGeneralBin` reader):
//!
//! ```text
//! offset  size  field
//! 0       4     clock time (u32, seconds in the source trace)
//! 4       8     object id (u64)
//! 12      4     object size in bytes (u32)
//! 16      8     next access vtime (i64): the 1-based number of the next
//!               record for the same object, -1 if there is none
//! ```
//!
//! libCacheSim also accepts `i64::MAX` for "none", and its `traceFilter`
//! writes -2 for "not computed"; both are accepted here. The reader does
//! not need the field (the simulator's OPT computes its own future), but
//! the content check uses it, and the [`OracleGeneralWriter`] fills it in
//! exactly as `traceConv` does, so libCacheSim's Belady can read our files.
//!
//! # What a record becomes
//!
//! * A **zero-size** record is skipped, as libCacheSim's `cachesim` does by
//!   default (`ignore_size_zero_req`), so miss counts stay comparable.
//! * Without page splitting each remaining record is one reference to the
//!   page id *object id* (objects are the cached unit; sizes ignored, as
//!   `cachesim --ignore-obj-size 1` does).
//! * With page splitting ([`PageSplit`], `--page-size P`, `--id-unit U`),
//!   the object is a byte range of a block device: it starts at byte
//!   `id × U` (`U` = 1: the id is a byte offset, as in the MSR and Alibaba
//!   block traces; `U` = 512: the id is a sector number, as in the
//!   CloudPhysics sample shipped with libCacheSim) and covers `size`
//!   bytes, so it touches the pages `⌊id·U / P⌋ ..= ⌊(id·U + size − 1) / P⌋`,
//!   emitted in address order, one reference each. Arithmetic is exact
//!   (128-bit); a page number beyond 64 bits is a corrupt record.
//!
//! # Recognition by content
//!
//! See [`check`]: over the first (up to 4096) whole records in the first
//! buffer, every next-access field must be -1, -2 or `i64::MAX`, or a
//! record number after its own; one that points inside the window must
//! point at a record of the same object, and an object that recurs inside
//! the window must have pointed exactly at its recurrence. Random binary
//! data fails this within a record or two; text, lackey output and
//! `EPCTRACE` files are recognised before it is tried (they hold no NUL
//! byte, or start with the magic). A file that breaks the rule (a
//! third-party writer that leaves the field 0, say) can still be read with
//! `--format oracle-general`, which skips the check.
//!
//! # Errors
//!
//! A stream whose length is not a multiple of 24 ends in a truncated
//! record: [`TraceError::Corrupt`] with the offset of the record's first
//! byte.

use super::error::TraceError;
use rustc_hash::FxHashMap;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

/// Bytes per record.
pub const ORACLE_RECORD_BYTES: usize = 24;

/// Records the content check looks at, at most.
const PROBE_RECORDS: usize = 4096;

/// The next-access values that mean "none" or "unknown".
const NONE: i64 = -1;
const UNKNOWN: i64 = -2;

/// One oracleGeneral record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleRecord {
    /// Clock time (seconds in the source trace).
    pub time: u32,
    /// Object id.
    pub id: u64,
    /// Object size in bytes.
    pub size: u32,
    /// 1-based number of the next record of the same object, -1 if none.
    pub next: i64,
}

impl OracleRecord {
    /// The record's 24 bytes.
    pub fn to_bytes(&self) -> [u8; ORACLE_RECORD_BYTES] {
        let mut b = [0u8; ORACLE_RECORD_BYTES];
        b[0..4].copy_from_slice(&self.time.to_le_bytes());
        b[4..12].copy_from_slice(&self.id.to_le_bytes());
        b[12..16].copy_from_slice(&self.size.to_le_bytes());
        b[16..24].copy_from_slice(&self.next.to_le_bytes());
        b
    }

    /// The record in 24 bytes.
    pub fn from_bytes(b: &[u8; ORACLE_RECORD_BYTES]) -> Self {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(x)
        };
        OracleRecord {
            time: u32_at(0),
            id: u64_at(4),
            size: u32_at(12),
            next: u64_at(16) as i64,
        }
    }
}

/// How objects of a block trace become pages: an object of `size` bytes
/// at id `id` covers the bytes `[id × id_unit, id × id_unit + size)`, and
/// so the pages `⌊id·id_unit / page_size⌋ ..= ⌊(id·id_unit + size − 1) /
/// page_size⌋` (see [the trace module](super#oraclegeneral)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PageSplit {
    /// Page size in bytes (4096 for the EPC), at least 1.
    pub page_size: u64,
    /// Bytes per unit of object id: 1 if ids are byte offsets, 512 if they
    /// are sector numbers; at least 1.
    pub id_unit: u64,
}

impl PageSplit {
    /// 4 KiB pages, ids as byte offsets.
    pub const BYTES_TO_4K: PageSplit = PageSplit {
        page_size: 4096,
        id_unit: 1,
    };

    /// The first and last page an object covers; `None` if the last page
    /// number does not fit in 64 bits. `size` must be at least 1.
    pub fn pages(&self, id: u64, size: u32) -> Option<(u64, u64)> {
        let start = u128::from(id) * u128::from(self.id_unit.max(1));
        let end = start + u128::from(size) - 1;
        let ps = u128::from(self.page_size.max(1));
        let last = u64::try_from(end / ps).ok()?;
        Some(((start / ps) as u64, last))
    }
}

/// Streaming reader of the oracleGeneral format.
#[derive(Debug)]
pub(crate) struct OracleReader<R> {
    input: R,
    path: PathBuf,
    split: Option<PageSplit>,
    offset: u64,
    /// Pages of the current object still to emit, `(next, last)`.
    pending: Option<(u64, u64)>,
}

impl<R: BufRead> OracleReader<R> {
    pub(crate) fn new(input: R, path: PathBuf, split: Option<PageSplit>) -> Self {
        OracleReader {
            input,
            path,
            split,
            offset: 0,
            pending: None,
        }
    }

    /// The next record, `None` at a clean end.
    fn record(&mut self) -> Result<Option<OracleRecord>, TraceError> {
        let mut rec = [0u8; ORACLE_RECORD_BYTES];
        let buf = self
            .input
            .fill_buf()
            .map_err(|e| TraceError::io(&self.path, e))?;
        if buf.len() >= ORACLE_RECORD_BYTES {
            rec.copy_from_slice(&buf[..ORACLE_RECORD_BYTES]);
            self.input.consume(ORACLE_RECORD_BYTES);
        } else {
            // A record across a buffer boundary, or the end.
            let mut have = 0;
            while have < ORACLE_RECORD_BYTES {
                let n = match self.input.read(&mut rec[have..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(TraceError::io(&self.path, e)),
                };
                if n == 0 {
                    if have == 0 {
                        return Ok(None);
                    }
                    return Err(TraceError::Corrupt {
                        path: self.path.clone(),
                        offset: self.offset,
                        reason: "oracleGeneral record cut short (records are 24 bytes; \
                                 the file is truncated)",
                    });
                }
                have += n;
            }
        }
        self.offset += ORACLE_RECORD_BYTES as u64;
        Ok(Some(OracleRecord::from_bytes(&rec)))
    }

    pub(crate) fn next_page(&mut self) -> Result<Option<u64>, TraceError> {
        loop {
            if let Some((next, last)) = self.pending {
                self.pending = (next < last).then(|| (next + 1, last));
                return Ok(Some(next));
            }
            let Some(r) = self.record()? else {
                return Ok(None);
            };
            if r.size == 0 {
                continue;
            }
            let Some(split) = self.split else {
                return Ok(Some(r.id));
            };
            match split.pages(r.id, r.size) {
                Some(range) => self.pending = Some(range),
                None => {
                    return Err(TraceError::Corrupt {
                        path: self.path.clone(),
                        offset: self.offset - ORACLE_RECORD_BYTES as u64,
                        reason: "object's page number does not fit in 64 bits \
                                 (check --page-size and --id-unit)",
                    })
                }
            }
        }
    }
}

/// Whether `head` (the first decompressed bytes of a stream) is the start
/// of an oracleGeneral trace; the error says why not (the rule is in this
/// module's docs, "Recognition by content").
pub(crate) fn check(head: &[u8]) -> Result<(), String> {
    let k = (head.len() / ORACLE_RECORD_BYTES).min(PROBE_RECORDS);
    if k == 0 {
        return Err(format!(
            "{} bytes, less than one 24-byte oracleGeneral record",
            head.len()
        ));
    }
    let recs: Vec<OracleRecord> = head
        .chunks_exact(ORACLE_RECORD_BYTES)
        .take(k)
        .map(|c| {
            let mut b = [0u8; ORACLE_RECORD_BYTES];
            b.copy_from_slice(c);
            OracleRecord::from_bytes(&b)
        })
        .collect();
    let mut last: FxHashMap<u64, usize> = FxHashMap::default();
    for (i, r) in recs.iter().enumerate() {
        let vtime = i as i64 + 1;
        match r.next {
            NONE | UNKNOWN | i64::MAX => {}
            n if n > vtime => {
                if let Some(t) = recs.get((n - 1) as usize) {
                    if t.id != r.id {
                        return Err(format!(
                            "record {vtime} says object {} recurs at record {n}, \
                             which holds object {}",
                            r.id, t.id
                        ));
                    }
                }
            }
            n => {
                return Err(format!(
                    "record {vtime}'s next-access field is {n}, not -1 nor a later record"
                ))
            }
        }
        if let Some(p) = last.insert(r.id, i) {
            let said = recs[p].next;
            if said != UNKNOWN && said != vtime {
                return Err(format!(
                    "object {} recurs at record {vtime} but record {} said {said}",
                    r.id,
                    p + 1
                ));
            }
        }
    }
    Ok(())
}

/// Writes the oracleGeneral format. Records are held until
/// [`finish`](Self::finish), which fills in every next-access field (the
/// future is needed) and writes them in order: 16 bytes of memory per
/// record, plus a map entry per distinct object.
#[derive(Debug)]
pub struct OracleGeneralWriter<W: Write> {
    out: W,
    records: Vec<(u32, u32, u64)>,
}

impl<W: Write> OracleGeneralWriter<W> {
    /// A writer to `out` (nothing is written before `finish`).
    pub fn new(out: W) -> Self {
        OracleGeneralWriter {
            out,
            records: Vec::new(),
        }
    }

    /// Appends a request for object `id` of `size` bytes at clock `time`.
    pub fn push(&mut self, time: u32, id: u64, size: u32) {
        self.records.push((time, size, id));
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Computes the next-access fields, writes every record, flushes and
    /// returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let n = self.records.len();
        let mut next = vec![NONE; n];
        let mut seen: FxHashMap<u64, i64> = FxHashMap::default();
        for i in (0..n).rev() {
            let id = self.records[i].2;
            if let Some(j) = seen.insert(id, i as i64 + 1) {
                next[i] = j;
            }
        }
        drop(seen);
        let mut buf = Vec::with_capacity(ORACLE_RECORD_BYTES * 4096);
        for (&(time, size, id), &next) in self.records.iter().zip(&next) {
            let r = OracleRecord {
                time,
                id,
                size,
                next,
            };
            buf.extend_from_slice(&r.to_bytes());
            if buf.len() >= ORACLE_RECORD_BYTES * 4096 {
                self.out.write_all(&buf)?;
                buf.clear();
            }
        }
        self.out.write_all(&buf)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(reqs: &[(u32, u64, u32)]) -> Vec<u8> {
        let mut w = OracleGeneralWriter::new(Vec::new());
        for &(t, id, size) in reqs {
            w.push(t, id, size);
        }
        w.finish().unwrap()
    }

    fn read(bytes: &[u8], split: Option<PageSplit>) -> Result<Vec<u64>, TraceError> {
        let mut r = OracleReader::new(bytes, PathBuf::from("mem"), split);
        let mut out = Vec::new();
        while let Some(p) = r.next_page()? {
            out.push(p);
        }
        Ok(out)
    }

    #[test]
    fn next_access_is_one_based_as_in_trace_conv() {
        let bytes = written(&[(1, 7, 10), (2, 8, 10), (3, 7, 10), (4, 9, 10), (5, 7, 10)]);
        let next: Vec<i64> = bytes
            .chunks_exact(24)
            .map(|c| OracleRecord::from_bytes(c.try_into().unwrap()).next)
            .collect();
        assert_eq!(next, [3, -1, 5, -1, -1]);
        assert!(check(&bytes).is_ok());
        assert_eq!(read(&bytes, None).unwrap(), [7, 8, 7, 9, 7]);
    }

    #[test]
    fn the_check_rejects_inconsistent_records() {
        let mut bytes = written(&[(1, 7, 10), (2, 8, 10), (3, 7, 10)]);
        // Record 1 now says its object recurs at record 2 (object 8).
        bytes[16..24].copy_from_slice(&2i64.to_le_bytes());
        assert!(check(&bytes).unwrap_err().contains("record 2"));
        // A next-access field that points backwards.
        bytes[16..24].copy_from_slice(&1i64.to_le_bytes());
        assert!(check(&bytes).is_err());
        // Says "none" but the object recurs.
        bytes[16..24].copy_from_slice(&(-1i64).to_le_bytes());
        assert!(check(&bytes).is_err());
        assert!(check(&[0u8; 23]).is_err());
        assert!(check(&[0u8; 48]).is_err());
    }

    #[test]
    fn pages_of_a_block_object() {
        let s = PageSplit::BYTES_TO_4K;
        assert_eq!(s.pages(0, 1), Some((0, 0)));
        assert_eq!(s.pages(4095, 2), Some((0, 1)));
        assert_eq!(s.pages(8192, 8192), Some((2, 3)));
        let sectors = PageSplit {
            page_size: 4096,
            id_unit: 512,
        };
        assert_eq!(sectors.pages(9, 512), Some((1, 1)));
        assert_eq!(sectors.pages(7, 1024), Some((0, 1)));
        let huge = PageSplit {
            page_size: 1,
            id_unit: 4096,
        };
        assert_eq!(huge.pages(u64::MAX, 1), None);
        let bytes = written(&[(0, 4096, 8192), (0, 0, 0), (0, 100, 1)]);
        // The zero-size object (id 0) is skipped.
        assert_eq!(read(&bytes, Some(s)).unwrap(), [1, 2, 0]);
    }
}
