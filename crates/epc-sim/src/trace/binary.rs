//! The compact binary trace format.
//!
//! ```text
//! offset  size  content
//! 0       8     magic "EPCTRACE" (ASCII)
//! 8       1     version, 1
//! 9       ...   one record per reference, to the end of the stream
//! ```
//!
//! A record is the difference from the previous page id (the first is taken
//! against 0) as a wrapping 64-bit signed delta, zigzag-encoded
//! (`(d << 1) ^ (d >> 63)`, so small negative deltas stay small) and written
//! as unsigned LEB128 (7 bits per byte, least significant group first, high
//! bit set on every byte but the last; at most 10 bytes). Sequential and
//! nearby pages take one byte each; real block traces average 2–3 bytes per
//! reference, against 7–8 for text. The stream ends after the last complete
//! record; a record cut short, or longer than 10 bytes, is corrupt. The file
//! may itself be compressed with xz, gzip or zstd (recognised as for text).

use super::error::TraceError;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

/// The first 8 bytes of a binary trace.
pub const MAGIC: &[u8; 8] = b"EPCTRACE";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Records decoded per batch at most.
const BATCH: usize = 4096;

/// Streaming reader of the binary format (positioned after the header).
///
/// Records are decoded a batch at a time straight from the input's buffer
/// (one `fill_buf` per batch, not per record); a record split across two
/// buffers goes through the byte-at-a-time path.
#[derive(Debug)]
pub(crate) struct BinaryReader<R> {
    input: R,
    path: PathBuf,
    prev: u64,
    offset: u64,
    batch: Vec<u64>,
    pos: usize,
}

impl<R: BufRead> BinaryReader<R> {
    /// Checks the header and returns a reader positioned on the first record.
    pub(crate) fn new(mut input: R, path: PathBuf) -> Result<Self, TraceError> {
        let mut header = [0u8; 9];
        input.read_exact(&mut header).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                TraceError::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: "header cut short",
                }
            } else {
                TraceError::io(&path, e)
            }
        })?;
        if &header[..8] != MAGIC {
            return Err(TraceError::UnknownFormat {
                path,
                reason: "no EPCTRACE magic".into(),
            });
        }
        if header[8] != VERSION {
            return Err(TraceError::UnknownFormat {
                path,
                reason: format!("binary trace version {} (this build reads 1)", header[8]),
            });
        }
        Ok(BinaryReader {
            input,
            path,
            prev: 0,
            offset: 9,
            batch: Vec::with_capacity(BATCH),
            pos: 0,
        })
    }

    pub(crate) fn next_page(&mut self) -> Result<Option<u64>, TraceError> {
        if self.pos == self.batch.len() {
            self.refill()?;
            if self.batch.is_empty() {
                return self.next_slow();
            }
        }
        let p = self.batch[self.pos];
        self.pos += 1;
        Ok(Some(p))
    }

    /// Decodes the whole records at the front of the input's buffer (up to
    /// [`BATCH`]) into `batch`; leaves it empty if the first record is not
    /// whole in the buffer (or at the end, or on a record too long).
    fn refill(&mut self) -> Result<(), TraceError> {
        self.batch.clear();
        self.pos = 0;
        let buf = self
            .input
            .fill_buf()
            .map_err(|e| TraceError::io(&self.path, e))?;
        let mut i = 0;
        let mut prev = self.prev;
        'records: while self.batch.len() < BATCH {
            let mut z: u64 = 0;
            let mut shift = 0u32;
            let mut j = i;
            loop {
                let Some(&b) = buf.get(j) else {
                    break 'records;
                };
                if shift > 63 {
                    // Let the slow path report it at the right offset.
                    break 'records;
                }
                z |= u64::from(b & 0x7f) << shift;
                shift += 7;
                j += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
            prev = prev.wrapping_add(unzigzag(z) as u64);
            self.batch.push(prev);
            i = j;
        }
        self.prev = prev;
        self.input.consume(i);
        self.offset += i as u64;
        Ok(())
    }

    /// One record, byte by byte across buffers.
    fn next_slow(&mut self) -> Result<Option<u64>, TraceError> {
        let mut z: u64 = 0;
        let mut shift = 0u32;
        let start = self.offset;
        loop {
            let buf = self
                .input
                .fill_buf()
                .map_err(|e| TraceError::io(&self.path, e))?;
            if buf.is_empty() {
                if shift == 0 {
                    return Ok(None);
                }
                return Err(TraceError::Corrupt {
                    path: self.path.clone(),
                    offset: start,
                    reason: "record cut short",
                });
            }
            let mut used = 0;
            let mut done = false;
            for &b in buf {
                used += 1;
                if shift > 63 {
                    return Err(TraceError::Corrupt {
                        path: self.path.clone(),
                        offset: start,
                        reason: "record longer than 10 bytes",
                    });
                }
                z |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    done = true;
                    break;
                }
            }
            self.input.consume(used);
            self.offset += used as u64;
            if done {
                self.prev = self.prev.wrapping_add(unzigzag(z) as u64);
                return Ok(Some(self.prev));
            }
        }
    }
}

/// Writes the binary format to any byte sink.
#[derive(Debug)]
pub struct BinaryWriter<W: Write> {
    out: W,
    prev: u64,
}

impl<W: Write> BinaryWriter<W> {
    /// Writes the header and returns the writer.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&[VERSION])?;
        Ok(BinaryWriter { out, prev: 0 })
    }

    /// Appends one reference.
    pub fn write(&mut self, page: u64) -> io::Result<()> {
        let mut z = zigzag(page.wrapping_sub(self.prev) as i64);
        self.prev = page;
        let mut buf = [0u8; 10];
        let mut n = 0;
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                buf[n] = b;
                n += 1;
                break;
            }
            buf[n] = b | 0x80;
            n += 1;
        }
        self.out.write_all(&buf[..n])
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trip() {
        for d in [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(d)), d);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn round_trip() {
        let pages = [0u64, 1, 2, 1, u64::MAX, 0, 1 << 40, 5];
        let mut w = BinaryWriter::new(Vec::new()).unwrap();
        for &p in &pages {
            w.write(p).unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut r = BinaryReader::new(&bytes[..], PathBuf::from("mem")).unwrap();
        let mut got = Vec::new();
        while let Some(p) = r.next_page().unwrap() {
            got.push(p);
        }
        assert_eq!(got, pages);
        // A record cut short is corrupt.
        let cut = &bytes[..bytes.len() - 1];
        let mut r = BinaryReader::new(cut, PathBuf::from("mem")).unwrap();
        let err = loop {
            match r.next_page() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, TraceError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn batches_and_records_across_buffers() {
        let mut x = 1u64;
        let pages: Vec<u64> = (0..20_000)
            .map(|i| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                if i % 3 == 0 {
                    x
                } else {
                    x >> 50
                }
            })
            .collect();
        let mut w = BinaryWriter::new(Vec::new()).unwrap();
        for &p in &pages {
            w.write(p).unwrap();
        }
        let bytes = w.finish().unwrap();
        // Small buffers make records straddle them; large ones batch.
        for cap in [1usize, 3, 7, 64, 1 << 16] {
            let input = std::io::BufReader::with_capacity(cap, &bytes[..]);
            let mut r = BinaryReader::new(input, PathBuf::from("mem")).unwrap();
            let mut got = Vec::new();
            while let Some(p) = r.next_page().unwrap() {
                got.push(p);
            }
            assert_eq!(got, pages, "buffer {cap}");
        }
        // A record longer than 10 bytes, after a good one, in a batch.
        let mut bad = bytes[..9].to_vec();
        bad.push(4);
        bad.extend_from_slice(&[0x80; 11]);
        bad.push(1);
        let mut r = BinaryReader::new(&bad[..], PathBuf::from("mem")).unwrap();
        assert_eq!(r.next_page().unwrap(), Some(2));
        match r.next_page() {
            Err(TraceError::Corrupt { offset, .. }) => assert_eq!(offset, 10),
            other => panic!("{other:?}"),
        }
    }
}
