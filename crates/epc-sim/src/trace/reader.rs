//! Opening a trace: compression and format recognised by content, then a
//! streaming iterator of page ids.

use super::binary::{BinaryReader, MAGIC};
use super::compression::{decompress, Compression};
use super::error::TraceError;
use super::lackey::{looks_like_lackey, LackeyReader};
use super::oracle::{self, OracleReader, PageSplit};
use super::text::{looks_like_text, TextReader};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The formats of a (decompressed) trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    /// One unsigned decimal page id per line ([`text`](super#text)).
    Text,
    /// valgrind lackey `--trace-mem=yes` output.
    Lackey,
    /// The compact binary format ([`binary`](super#binary)).
    Binary,
    /// libCacheSim's `oracleGeneral` binary format
    /// ([`oracle-general`](super#oraclegeneral)).
    #[serde(rename = "oracle-general")]
    OracleGeneral,
}

impl TraceFormat {
    /// Every accepted name.
    pub const NAMES: &'static [&'static str] = &["text", "lackey", "binary", "oracle-general"];

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Text => "text",
            TraceFormat::Lackey => "lackey",
            TraceFormat::Binary => "binary",
            TraceFormat::OracleGeneral => "oracle-general",
        }
    }

    /// The format called `name` (case-insensitive; "txt", "bin",
    /// "oraclegeneral" and "oracle" too).
    pub fn from_name(name: &str) -> Result<Self, TraceError> {
        match name.to_ascii_lowercase().as_str() {
            "text" | "txt" => Ok(TraceFormat::Text),
            "lackey" => Ok(TraceFormat::Lackey),
            "binary" | "bin" => Ok(TraceFormat::Binary),
            "oracle-general" | "oraclegeneral" | "oracle_general" | "oracle" => {
                Ok(TraceFormat::OracleGeneral)
            }
            _ => Err(TraceError::UnknownFormat {
                path: PathBuf::new(),
                reason: format!(
                    "no format called {name:?} (known: {})",
                    TraceFormat::NAMES.join(", ")
                ),
            }),
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TraceFormat {
    type Err = TraceError;
    fn from_str(s: &str) -> Result<Self, TraceError> {
        TraceFormat::from_name(s)
    }
}

type Input = Box<dyn BufRead + Send>;

enum Inner {
    Text(TextReader<Input>),
    Lackey(LackeyReader<Input>),
    Binary(BinaryReader<Input>),
    Oracle(OracleReader<Input>),
}

/// How to open a trace: everything optional, recognised by content when
/// absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The format, skipping recognition (`--format`).
    pub format: Option<TraceFormat>,
    /// Split the objects of an oracleGeneral trace into pages
    /// (`--page-size`, `--id-unit`); an error for any other format, whose
    /// ids are pages already.
    pub split: Option<PageSplit>,
}

/// A streaming reader of page ids: an iterator of `Result<u64, TraceError>`.
///
/// It holds only its buffers (a few hundred KiB) and the decompressor's
/// window (up to 64 MiB for `xz -9` files, 8 MiB at xz's default preset),
/// never the trace. At the end of a trace that held no
/// reference it yields [`TraceError::Empty`] once. After an error it yields
/// nothing more.
pub struct TraceReader {
    inner: Inner,
    path: PathBuf,
    format: TraceFormat,
    compression: Compression,
    count: u64,
    done: bool,
    /// [`next_batch`](Self::next_batch)'s records for the formats that
    /// decode one at a time.
    batch: Vec<u64>,
}

impl fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("compression", &self.compression)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl TraceReader {
    /// Opens `path`, recognising compression and format from the content.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TraceError> {
        Self::open_with(path, None)
    }

    /// Opens `path` as `format` (compression still recognised by content),
    /// or recognises the format when `None`.
    pub fn open_with(
        path: impl AsRef<Path>,
        format: Option<TraceFormat>,
    ) -> Result<Self, TraceError> {
        Self::open_opts(
            path,
            ReadOptions {
                format,
                split: None,
            },
        )
    }

    /// Opens `path` with explicit [`ReadOptions`].
    pub fn open_opts(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self, TraceError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| TraceError::io(path, e))?;
        Self::from_reader_opts(Box::new(file), path, opts)
    }

    /// Reads a trace from any byte stream (standard input, memory);
    /// `name` is used in error messages.
    pub fn from_reader(
        input: Box<dyn Read + Send>,
        name: impl AsRef<Path>,
        format: Option<TraceFormat>,
    ) -> Result<Self, TraceError> {
        Self::from_reader_opts(
            input,
            name,
            ReadOptions {
                format,
                split: None,
            },
        )
    }

    /// [`from_reader`](Self::from_reader) with explicit [`ReadOptions`].
    pub fn from_reader_opts(
        input: Box<dyn Read + Send>,
        name: impl AsRef<Path>,
        opts: ReadOptions,
    ) -> Result<Self, TraceError> {
        let path = name.as_ref().to_owned();
        let (compression, mut input) = decompress(input).map_err(|e| TraceError::io(&path, e))?;
        let format = match opts.format {
            Some(f) => f,
            None => detect(&mut input, &path)?,
        };
        if opts.split.is_some() && format != TraceFormat::OracleGeneral {
            return Err(TraceError::Unsupported {
                path,
                reason: format!(
                    "--page-size splits the objects of an oracle-general trace; \
                     this one is {format}, whose ids are pages already"
                ),
            });
        }
        let inner = match format {
            TraceFormat::Text => Inner::Text(TextReader::new(input, path.clone())),
            TraceFormat::Lackey => Inner::Lackey(LackeyReader::new(input, path.clone())),
            TraceFormat::Binary => Inner::Binary(BinaryReader::new(input, path.clone())?),
            TraceFormat::OracleGeneral => {
                Inner::Oracle(OracleReader::new(input, path.clone(), opts.split))
            }
        };
        Ok(TraceReader {
            inner,
            path,
            format,
            compression,
            count: 0,
            done: false,
            batch: Vec::new(),
        })
    }

    /// The trace's format.
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    /// The trace's compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The file name given when opening.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// References read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Records of a lackey trace cut short by interleaved writes and
    /// skipped so far (always 0 for other formats); see the
    /// [module documentation](super#lackey). At the end of a trace that
    /// had some, the reader prints one line to standard error saying how
    /// many and where the first was.
    pub fn cut_records(&self) -> u64 {
        match &self.inner {
            Inner::Lackey(r) => r.cut_records(),
            _ => 0,
        }
    }

    /// The next page id; `Ok(None)` at the end.
    pub fn next_page(&mut self) -> Result<Option<u64>, TraceError> {
        if self.done {
            return Ok(None);
        }
        let r = match &mut self.inner {
            Inner::Text(r) => r.next_page(),
            Inner::Lackey(r) => r.next_page(),
            Inner::Binary(r) => r.next_page(),
            Inner::Oracle(r) => r.next_page(),
        };
        match r {
            Ok(Some(p)) => {
                self.count += 1;
                Ok(Some(p))
            }
            Ok(None) => self.end().map(|()| None),
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// The next page ids, several at a time (at most a few thousand); an
    /// empty slice at the end. The same ids, the same errors, in the same
    /// order as [`next_page`](Self::next_page), which may be mixed with
    /// it; on an error, the ids of the batch before it are not returned.
    /// A binary trace hands over its decoded block as it is (one call per
    /// block instead of one per reference); other formats are read through
    /// `next_page`.
    pub fn next_batch(&mut self) -> Result<&[u64], TraceError> {
        if self.done {
            return Ok(&[]);
        }
        if let Inner::Binary(r) = &mut self.inner {
            match r.fill_batch() {
                Ok(0) => {
                    self.end()?;
                    return Ok(&[]);
                }
                Ok(n) => {
                    self.count += n as u64;
                    let Inner::Binary(r) = &mut self.inner else {
                        unreachable!("matched just above")
                    };
                    return Ok(r.take_batch());
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        while batch.len() < 4096 {
            match self.next_page() {
                Ok(Some(p)) => batch.push(p),
                Ok(None) => break,
                Err(e) => {
                    self.batch = batch;
                    return Err(e);
                }
            }
        }
        self.batch = batch;
        Ok(&self.batch)
    }

    /// The end of the trace: the lackey report, and [`TraceError::Empty`]
    /// if it held no reference.
    fn end(&mut self) -> Result<(), TraceError> {
        self.done = true;
        if let Inner::Lackey(r) = &self.inner {
            if let Some(line) = r.first_cut_line() {
                eprintln!(
                    "{}: skipped {} lackey record(s) cut short by interleaved writes \
                     (the first on line {line}; a program that forks shares valgrind's \
                     log with its child)",
                    self.path.display(),
                    r.cut_records()
                );
            }
        }
        if self.count == 0 {
            Err(TraceError::Empty {
                path: self.path.clone(),
            })
        } else {
            Ok(())
        }
    }
}

impl Iterator for TraceReader {
    type Item = Result<u64, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_page().transpose()
    }
}

/// Recognises the format from the first bytes (decompressed): the binary
/// magic; else, if a NUL byte is among the first 4 KiB, oracleGeneral if
/// its content check passes; else the first line that is not blank, a
/// comment or a valgrind banner: a decimal number means text, a lackey
/// access line lackey (and if neither, oracleGeneral is tried last).
fn detect(input: &mut Input, path: &Path) -> Result<TraceFormat, TraceError> {
    let head = input.fill_buf().map_err(|e| TraceError::io(path, e))?;
    if head.starts_with(MAGIC) {
        return Ok(TraceFormat::Binary);
    }
    if head.is_empty() {
        return Err(TraceError::Empty {
            path: path.to_owned(),
        });
    }
    // Text and lackey output never hold a NUL byte; oracleGeneral records
    // almost always do (the high bytes of ids, sizes and next-access times).
    if head[..head.len().min(4096)].contains(&0) {
        return match oracle::check(head) {
            Ok(()) => Ok(TraceFormat::OracleGeneral),
            Err(why) => Err(TraceError::UnknownFormat {
                path: path.to_owned(),
                reason: format!(
                    "binary content that is neither an EPCTRACE trace nor an oracleGeneral \
                     trace ({why}); --format oracle-general reads it anyway"
                ),
            }),
        };
    }
    // Look at complete lines in the first buffer (at least 256 KiB unless
    // the trace is shorter).
    let complete = match head.iter().rposition(|&b| b == b'\n') {
        Some(i) => &head[..=i],
        None => head,
    };
    for (i, raw) in complete.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        if line.starts_with(b"==") || line.starts_with(b"--") {
            continue;
        }
        if looks_like_text(line) {
            return Ok(TraceFormat::Text);
        }
        if looks_like_lackey(line) {
            return Ok(TraceFormat::Lackey);
        }
        if oracle::check(head).is_ok() {
            return Ok(TraceFormat::OracleGeneral);
        }
        let shown: String = String::from_utf8_lossy(line).chars().take(60).collect();
        return Err(TraceError::UnknownFormat {
            path: path.to_owned(),
            reason: format!(
                "line {} is {shown:?}: neither a page id, a lackey line nor a binary trace",
                i + 1
            ),
        });
    }
    // Only blank lines, comments or banners so far: lackey output with no
    // access, or a text file with none; the text reader copes with both
    // (skipping them and reporting an empty trace).
    Ok(TraceFormat::Text)
}

/// Reads a whole trace into memory (the simulator's OPT needs it).
pub fn read_pages(path: impl AsRef<Path>) -> Result<Vec<u64>, TraceError> {
    TraceReader::open(path)?.collect()
}
