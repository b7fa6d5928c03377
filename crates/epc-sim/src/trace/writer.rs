//! Writing traces: text, binary or oracleGeneral, optionally compressed
//! (for `epc trace convert` and `epc trace record`).

use super::binary::BinaryWriter;
use super::compression::{Compression, BUF_SIZE};
use super::error::TraceError;
use super::oracle::OracleGeneralWriter;
use super::reader::{ReadOptions, TraceFormat};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The byte sink under a writer: a file behind the chosen compressor.
enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Xz(liblzma::write::XzEncoder<BufWriter<File>>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Sink {
    fn as_write(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
            Sink::Xz(w) => w,
            Sink::Zstd(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        let mut file = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
            Sink::Xz(w) => w.finish()?,
            Sink::Zstd(w) => w.finish()?,
        };
        file.flush()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.as_write().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.as_write().flush()
    }
}

enum Encoder {
    Text(Sink),
    Binary(BinaryWriter<Sink>),
    Oracle(OracleGeneralWriter<Sink>),
}

/// The object size the oracleGeneral writer gives each page: one 4 KiB page,
/// so libCacheSim run with object sizes sees a cache of pages.
pub const ORACLE_PAGE_BYTES: u32 = 4096;

/// Writes a trace file, one reference at a time. Call
/// [`finish`](Self::finish) at the end: it completes the compressed stream
/// and reports the last write errors (dropping the writer loses them).
pub struct TraceWriter {
    enc: Encoder,
    path: PathBuf,
    format: TraceFormat,
    count: u64,
}

impl fmt::Debug for TraceWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceWriter")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl TraceWriter {
    /// Creates `path` (truncating it). `format` must be text, binary or
    /// oracle-general (lackey is input only).
    ///
    /// An oracle-general file gets one record per reference: clock time the
    /// 1-based reference number (saturating at `u32::MAX`), object id the
    /// page id, size [`ORACLE_PAGE_BYTES`], and the next-access field as
    /// libCacheSim's `traceConv` computes it. Its records are held in
    /// memory (16 bytes each) until [`finish`](Self::finish).
    pub fn create(
        path: impl AsRef<Path>,
        format: TraceFormat,
        compression: Compression,
    ) -> Result<Self, TraceError> {
        let path = path.as_ref().to_owned();
        if format == TraceFormat::Lackey {
            return Err(TraceError::UnknownFormat {
                path,
                reason: "lackey is an input format only; write text, binary or oracle-general"
                    .into(),
            });
        }
        let file = File::create(&path).map_err(|e| TraceError::io(&path, e))?;
        let file = BufWriter::with_capacity(BUF_SIZE, file);
        let sink = match compression {
            Compression::None => Sink::Plain(file),
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            )),
            Compression::Xz => Sink::Xz(liblzma::write::XzEncoder::new(file, 6)),
            Compression::Zstd => Sink::Zstd(
                zstd::stream::write::Encoder::new(file, 3).map_err(|e| TraceError::io(&path, e))?,
            ),
        };
        let enc = match format {
            TraceFormat::Binary => {
                Encoder::Binary(BinaryWriter::new(sink).map_err(|e| TraceError::io(&path, e))?)
            }
            TraceFormat::OracleGeneral => Encoder::Oracle(OracleGeneralWriter::new(sink)),
            _ => Encoder::Text(sink),
        };
        Ok(TraceWriter {
            enc,
            path,
            format,
            count: 0,
        })
    }

    /// Appends one reference.
    pub fn write(&mut self, page: u64) -> Result<(), TraceError> {
        let r = match &mut self.enc {
            Encoder::Text(w) => writeln!(w, "{page}"),
            Encoder::Binary(w) => w.write(page),
            Encoder::Oracle(w) => {
                let time = u32::try_from(self.count + 1).unwrap_or(u32::MAX);
                w.push(time, page, ORACLE_PAGE_BYTES);
                Ok(())
            }
        };
        self.count += 1;
        r.map_err(|e| TraceError::io(&self.path, e))
    }

    /// Completes the file; returns the number of references written.
    pub fn finish(self) -> Result<u64, TraceError> {
        let r = match self.enc {
            Encoder::Text(w) => w.finish(),
            Encoder::Binary(w) => w.finish().and_then(Sink::finish),
            Encoder::Oracle(w) => w.finish().and_then(Sink::finish),
        };
        r.map_err(|e| TraceError::io(&self.path, e))?;
        Ok(self.count)
    }
}

/// Copies every reference of `input` into a new file: the conversion
/// behind `epc trace convert`. Returns the number of references.
pub fn convert(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    format: TraceFormat,
    compression: Compression,
) -> Result<u64, TraceError> {
    convert_with(input, ReadOptions::default(), output, format, compression)
}

/// [`convert`], the input opened with explicit [`ReadOptions`] (a format,
/// splitting an oracleGeneral trace's objects into pages).
pub fn convert_with(
    input: impl AsRef<Path>,
    opts: ReadOptions,
    output: impl AsRef<Path>,
    format: TraceFormat,
    compression: Compression,
) -> Result<u64, TraceError> {
    let reader = super::TraceReader::open_opts(input, opts)?;
    let mut w = TraceWriter::create(output, format, compression)?;
    for page in reader {
        w.write(page?)?;
    }
    w.finish()
}
