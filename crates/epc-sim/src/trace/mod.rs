//! Page-reference traces: streaming readers, writers and statistics.
//!
//! A trace is a sequence of unsigned 64-bit page ids. [`TraceReader`] reads
//! one as an iterator of `Result<u64, TraceError>`, recognising by content
//! (never by file name) both the compression and the format:
//!
//! * **compression**: xz, gzip or zstd by their magic bytes, else plain;
//! * **format** (of the decompressed bytes): the binary magic `EPCTRACE`;
//!   else, if a NUL byte is among the first 4 KiB (text never has one),
//!   oracleGeneral if its records pass the content check below; else the
//!   first line that is not blank, a `#` comment or a valgrind banner: a
//!   decimal number means text, a lackey access line lackey; anything else
//!   is [`TraceError::UnknownFormat`]. [`ReadOptions::format`]
//!   (`--format`) skips recognition.
//!
//! # Text
//!
//! One unsigned decimal page id per line; surrounding whitespace (and the
//! `\r` of CRLF files) ignored; blank lines and `#` comments skipped.
//!
//! # Lackey
//!
//! valgrind `--tool=lackey --trace-mem=yes` output: data accesses (`L`,
//! `S`, `M`) become 4 KiB page numbers (`addr >> 12`; an access that
//! straddles a page boundary touches both pages); `I` lines and the
//! `==pid==`/`--pid--` banner lines are skipped; consecutive references to
//! the same page are collapsed into one (a page is emitted only if it
//! differs from the last page emitted). Records cut short by interleaved
//! writes (`I  049edb7I  049e39f0,2`, two writers sharing valgrind's log)
//! are skipped and counted, never read
//! ([`TraceReader::cut_records`]); the whole record after them is read.
//!
//! # Binary
//!
//! `"EPCTRACE"` (8 bytes), a version byte (1), then one record per
//! reference: the wrapping difference from the previous id (the first from
//! 0), zigzag-encoded and written as unsigned LEB128 (1–10 bytes). The
//! stream ends after the last whole record. It may be compressed like text.
//! See [`BinaryWriter`].
//!
//! # oracleGeneral
//!
//! libCacheSim's binary format (the public block and CDN trace sets are
//! published in it, plain or zstd): 24-byte little-endian packed records,
//! `u32` clock time, `u64` object id, `u32` object size, `i64` next-access
//! vtime (1-based record number of the object's next request, -1 if none);
//! no header. Zero-size records are skipped (as `cachesim` does); each
//! other record is one reference to its object id, or, with
//! [`ReadOptions::split`] (`--page-size 4096`), one reference to each page
//! its byte range `[id × id_unit, id × id_unit + size)` covers. It is
//! recognised by content: the next-access fields of the first 4096
//! records must be consistent with the object ids (each points at the
//! object's next record, or is -1). A trailing partial record is
//! [`TraceError::Corrupt`]. [`OracleGeneralWriter`] writes it (next-access
//! fields included, as libCacheSim's `traceConv` does); [`OracleRecord`] is
//! one record, [`PageSplit`] the mapping to pages.
//!
//! # Errors
//!
//! One enum, [`TraceError`]; each message names the file, and a malformed
//! line its 1-based line number. A trace with no reference is
//! [`TraceError::Empty`] (yielded by the reader at the end).
//!
//! # Memory
//!
//! Reading streams: the reader keeps its buffers (256 KiB each) and the
//! decompressor state, whatever the trace's length. Measured on w106
//! (5.3 M references): 2.3 MiB peak resident for the plain text, 57 MiB for
//! the shared `.xz` file (its dictionary; xz's default preset needs 8 MiB,
//! `-9` 64 MiB); gzip and zstd need well under 10 MiB.
//!
//! # Example
//!
//! ```no_run
//! use epc_sim::trace::{TraceReader, TraceStats};
//! let mut misses = 0u64;
//! for page in TraceReader::open("trace.xz")? {
//!     let page = page?;
//!     misses += page & 1;
//! }
//! let stats = TraceStats::of_file("trace.xz")?;
//! println!("{} refs, {} pages, {misses}", stats.refs, stats.distinct);
//! # Ok::<(), epc_sim::trace::TraceError>(())
//! ```

mod binary;
mod compression;
mod error;
mod fenwick;
pub(crate) use fenwick::StackClock;
mod lackey;
mod oracle;
mod reader;
mod stats;
mod text;
mod writer;

pub use binary::{BinaryWriter, MAGIC as BINARY_MAGIC, VERSION as BINARY_VERSION};
pub use compression::Compression;
pub use error::TraceError;
pub use lackey::PAGE_SHIFT;
pub use oracle::{OracleGeneralWriter, OracleRecord, PageSplit, ORACLE_RECORD_BYTES};
pub use reader::{read_pages, ReadOptions, TraceFormat, TraceReader};
pub use stats::{ReuseSummary, StatsBuilder, TraceStats};
pub use writer::{convert, convert_with, TraceWriter, ORACLE_PAGE_BYTES};
