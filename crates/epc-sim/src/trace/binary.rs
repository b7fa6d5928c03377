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

/// One LEB128 record at the start of `buf`: its value and length; `None`
/// if it does not end within `buf` or within 10 bytes.
#[inline]
fn decode(buf: &[u8]) -> Option<(u64, usize)> {
    let mut z: u64 = 0;
    for (j, &b) in buf.iter().take(10).enumerate() {
        z |= u64::from(b & 0x7f) << (7 * j);
        if b & 0x80 == 0 {
            return Some((z, j + 1));
        }
    }
    None
}

/// [`decode`] for a record of at most 8 bytes, from the 8 bytes at its
/// start, without a loop: the first byte with its high bit clear ends the
/// record, and the 7-bit groups are packed together in three steps. `None`
/// if the record is longer.
#[inline]
fn decode_word(bytes: &[u8]) -> Option<(u64, usize)> {
    let w = u64::from_le_bytes(bytes.try_into().ok()?);
    let ends = !w & 0x8080_8080_8080_8080;
    if ends == 0 {
        return None;
    }
    let len = (ends.trailing_zeros() / 8 + 1) as usize;
    let keep = if len == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    };
    let mut x = w & keep & 0x7f7f_7f7f_7f7f_7f7f;
    x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
    x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
    x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4);
    Some((x, len))
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

    /// Makes decoded records pending (decoding a batch if none is) and
    /// returns how many are; 0 at the end of the stream.
    pub(crate) fn fill_batch(&mut self) -> Result<usize, TraceError> {
        if self.pos == self.batch.len() {
            self.refill()?;
            if self.batch.is_empty() {
                if let Some(p) = self.next_slow()? {
                    self.batch.push(p);
                }
            }
        }
        Ok(self.batch.len() - self.pos)
    }

    /// The pending records (after [`fill_batch`](Self::fill_batch)), now
    /// consumed.
    pub(crate) fn take_batch(&mut self) -> &[u64] {
        let from = self.pos;
        self.pos = self.batch.len();
        &self.batch[from..]
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
        while self.batch.len() < BATCH {
            // Records of one byte (deltas within ±63) are common: no loop.
            let z = match buf.get(i) {
                None => break,
                Some(&b) if b < 0x80 => {
                    i += 1;
                    u64::from(b)
                }
                Some(_) if buf.len() - i >= 8 => match decode_word(&buf[i..i + 8]) {
                    Some((z, used)) => {
                        i += used;
                        z
                    }
                    None => match decode(&buf[i..]) {
                        Some((z, used)) => {
                            i += used;
                            z
                        }
                        None => break,
                    },
                },
                Some(_) => match decode(&buf[i..]) {
                    Some((z, used)) => {
                        i += used;
                        z
                    }
                    // Cut by the buffer's end, or too long: the slow path
                    // reads on or reports it at the right offset.
                    None => break,
                },
            };
            prev = prev.wrapping_add(unzigzag(z) as u64);
            self.batch.push(prev);
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
    fn every_record_length_decodes_in_blocks_and_singly() {
        // Deltas whose zigzag codes take 1 to 10 bytes, both signs, mixed.
        let mut pages = vec![0u64];
        let mut p = 0u64;
        for bits in 0..64u32 {
            for sign in [1i64, -1] {
                let d = (1i64 << bits).wrapping_sub(1).wrapping_mul(sign);
                p = p.wrapping_add(d as u64);
                pages.push(p);
                p = p.wrapping_add(3);
                pages.push(p);
            }
        }
        let mut w = BinaryWriter::new(Vec::new()).unwrap();
        for &q in &pages {
            w.write(q).unwrap();
        }
        let bytes = w.finish().unwrap();
        for cap in [1usize, 9, 1 << 16] {
            let input = std::io::BufReader::with_capacity(cap, &bytes[..]);
            let mut r = BinaryReader::new(input, PathBuf::from("mem")).unwrap();
            let mut got = Vec::new();
            // Alternate single records and whole blocks.
            loop {
                if let Some(q) = r.next_page().unwrap() {
                    got.push(q);
                }
                if r.fill_batch().unwrap() == 0 {
                    break;
                }
                got.extend_from_slice(r.take_batch());
            }
            assert_eq!(got, pages, "buffer {cap}");
        }
        for (i, word) in [[0x7fu8, 0, 0, 0, 0, 0, 0, 0], [0xff; 8]]
            .iter()
            .enumerate()
        {
            let expect = if i == 0 { Some((0x7f, 1)) } else { None };
            assert_eq!(decode_word(word), expect);
        }
        let eight = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(decode_word(&eight), Some(((1 << 56) - 1, 8)));
        assert_eq!(decode(&eight), Some(((1 << 56) - 1, 8)));
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
