//! Compression recognised by content: the first bytes of the file decide
//! (xz, gzip, zstd or none), never the file name.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// The compression of a trace file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// xz (LZMA2), possibly several streams.
    Xz,
    /// Zstandard, possibly several frames.
    Zstd,
}

const XZ_MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0x00];
const GZIP_MAGIC: &[u8] = &[0x1F, 0x8B];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xB5, 0x2F, 0xFD];

/// Buffer size for file reads and decompressed output: large enough that
/// per-call overhead vanishes, small enough to keep streaming cheap.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

impl Compression {
    /// Recognises the compression from the first bytes of a stream.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(XZ_MAGIC) {
            Compression::Xz
        } else if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The lowercase name ("none", "gzip", "xz", "zstd").
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression called `name` ("none", "gzip"/"gz", "xz", "zstd"/"zst").
    pub fn from_name(name: &str) -> Option<Compression> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "plain" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "xz" => Some(Compression::Xz),
            "zstd" | "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Wraps `input` in the decompressor its first bytes call for, returning a
/// buffered stream of the decompressed bytes.
pub(crate) fn decompress(
    input: Box<dyn Read + Send>,
) -> io::Result<(Compression, Box<dyn BufRead + Send>)> {
    let mut raw = BufReader::with_capacity(BUF_SIZE, input);
    let head = raw.fill_buf()?;
    let kind = Compression::detect(head);
    let out: Box<dyn BufRead + Send> = match kind {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            flate2::bufread::MultiGzDecoder::new(raw),
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            liblzma::bufread::XzDecoder::new_multi_decoder(raw),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            zstd::stream::read::Decoder::with_buffer(raw)?,
        )),
    };
    Ok((kind, out))
}
