//! `epc trace`: statistics of a trace, conversion between formats, and
//! recording a program's data-page trace under valgrind's lackey.

use crate::output;
use epc_sim::trace::{self, Compression, PageSplit, ReadOptions, TraceFormat, TraceStats};
use epc_sim::SimError;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  epc trace stats ../shared/traces/cs.trace.xz\n  \
epc trace convert app.lackey app.bin.zst --format binary\n  \
epc trace record -o ls.trace -- ls /"
)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TraceCommand {
    /// References, distinct pages, footprint and reuse distances.
    #[command(
        after_help = "Examples:\n  epc trace stats ../shared/traces/cs.trace.xz\n  \
epc trace stats app.lackey --json"
    )]
    Stats {
        /// The trace (format and compression recognised by content).
        file: PathBuf,
        /// The input format, instead of recognising it: text, lackey,
        /// binary or oracle-general.
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        read: ReadArgs,
        /// Print the result as one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Convert a trace to text or binary, optionally compressed.
    #[command(
        after_help = "Examples:\n  epc trace convert app.lackey app.bin.zst --format binary --compression zstd\n  \
epc trace convert ../shared/traces/cs.trace.xz cs.txt\n  \
epc trace convert ../shared/traces/w106.trace.xz w106.oracleGeneral --format oracle-general\n  \
epc trace convert msr.oracleGeneral.zst msr-pages.bin --format binary --page-size 4096\n\n\
oracle-general output (libCacheSim's format) has one 4 KiB object per page reference,\n\
with the next-access fields filled in; it is built in memory (16 bytes a reference)."
    )]
    Convert {
        /// The input trace (any format).
        input: PathBuf,
        /// The output file.
        output: PathBuf,
        /// Output format: text, binary or oracle-general.
        #[arg(long, default_value = "text")]
        format: String,
        /// The input format, instead of recognising it: text, lackey,
        /// binary or oracle-general.
        #[arg(long)]
        input_format: Option<String>,
        #[command(flatten)]
        read: ReadArgs,
        /// Output compression: none, xz, gzip or zstd (default: from the
        /// output's extension, .xz .gz .zst, else none).
        #[arg(long)]
        compression: Option<String>,
        /// Print the result as one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Run COMMAND under valgrind's lackey and write its data-page trace.
    #[command(
        after_help = "Examples:\n  epc trace record -o ls.trace.zst -- ls -l /\n  \
epc trace record --format binary -o sort.bin -- sort big.txt\n\n\
Needs valgrind (apt-get install valgrind). Data accesses (L, S, M) become 4 KiB\n\
page numbers; consecutive references to the same page are collapsed into one."
    )]
    Record {
        /// Where to write the trace.
        #[arg(short, long, default_value = "trace.txt")]
        output: PathBuf,
        /// Output format: text, binary or oracle-general.
        #[arg(long, default_value = "text")]
        format: String,
        /// Output compression: none, xz, gzip or zstd (default: from the
        /// output's extension).
        #[arg(long)]
        compression: Option<String>,
        /// Print the result as one JSON object on standard output.
        #[arg(long)]
        json: bool,
        /// The program and its arguments.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

fn tr(e: trace::TraceError) -> SimError {
    SimError::Input(e.to_string())
}

/// How an input trace's objects become pages (shared by `sim`, `mrc` and
/// `trace`).
#[derive(Debug, Default, clap::Args)]
pub(crate) struct ReadArgs {
    /// Split each object of an oracleGeneral (block) trace into the pages of
    /// this many bytes that it covers, one reference per page; object ids
    /// are byte offsets (see --id-unit). Zero-size objects are skipped.
    #[arg(long, value_name = "BYTES")]
    page_size: Option<String>,
    /// With --page-size: bytes per unit of object id (1: byte offsets, the
    /// default; 512: sector numbers).
    #[arg(long, value_name = "BYTES")]
    id_unit: Option<String>,
}

impl ReadArgs {
    /// The reader's options, with `format` (the command's input-format
    /// flag, named `flag` in errors).
    pub(crate) fn options(
        &self,
        format: Option<&str>,
        flag: &str,
    ) -> Result<ReadOptions, SimError> {
        let format = format
            .map(|f| TraceFormat::from_name(f).map_err(|e| SimError::Input(format!("{flag}: {e}"))))
            .transpose()?;
        let bytes = |v: &str, flag: &str| -> Result<u64, SimError> {
            match v.trim().parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(SimError::Input(format!(
                    "{flag}: {v:?} is not a byte count of at least 1"
                ))),
            }
        };
        let split = match (&self.page_size, &self.id_unit) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(SimError::Input(
                    "--id-unit: only meaningful with --page-size".into(),
                ))
            }
            (Some(p), u) => Some(PageSplit {
                page_size: bytes(p, "--page-size")?,
                id_unit: u.as_deref().map_or(Ok(1), |u| bytes(u, "--id-unit"))?,
            }),
        };
        Ok(ReadOptions { format, split })
    }
}

pub(crate) fn run(a: Args) -> Result<ExitCode, SimError> {
    match a.command {
        TraceCommand::Stats {
            file,
            format,
            read,
            json,
        } => {
            let opts = read.options(format.as_deref(), "--format")?;
            let r = trace::TraceReader::open_opts(&file, opts).map_err(tr)?;
            let (format, compression) = (r.format(), r.compression());
            let s = TraceStats::compute(r).map_err(tr)?;
            if json {
                let mut v =
                    serde_json::to_value(&s).map_err(|e| SimError::System(e.to_string()))?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("file".into(), file.display().to_string().into());
                    o.insert("format".into(), format.name().into());
                    o.insert("compression".into(), compression.name().into());
                }
                output::print_json(&v)?;
            } else {
                println!("{} ({format}, {compression})", file.display());
                println!("  references      {}", s.refs);
                println!("  distinct pages  {}", s.distinct);
                println!("  footprint       {:.2} MiB", s.footprint_mib);
                println!(
                    "  reuse distance  {} reuses, mean {:.1}, p50 ≤ {}, p90 ≤ {}, p99 ≤ {}",
                    s.reuse.reuses, s.reuse.mean, s.reuse.p50, s.reuse.p90, s.reuse.p99
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Convert {
            input,
            output: out,
            format,
            input_format,
            read,
            compression,
            json,
        } => {
            let opts = read.options(input_format.as_deref(), "--input-format")?;
            let (f, c) = out_format(&out, &format, compression.as_deref())?;
            let n = trace::convert_with(&input, opts, &out, f, c).map_err(tr)?;
            if json {
                output::print_json(&serde_json::json!({
                    "input": input.display().to_string(),
                    "output": out.display().to_string(),
                    "format": f.name(),
                    "compression": c.name(),
                    "refs": n,
                }))?;
            } else {
                println!("{n} references written to {} ({f}, {c})", out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Record {
            output: out,
            format,
            compression,
            json,
            command,
        } => record(&out, &format, compression.as_deref(), json, &command),
    }
}

fn out_format(
    out: &Path,
    format: &str,
    compression: Option<&str>,
) -> Result<(TraceFormat, Compression), SimError> {
    let f =
        TraceFormat::from_name(format).map_err(|e| SimError::Input(format!("--format: {e}")))?;
    let c = match compression {
        Some(n) => Compression::from_name(n).ok_or_else(|| {
            SimError::Input(format!(
                "--compression: unknown compression {n:?} (known: none, xz, gzip, zstd)"
            ))
        })?,
        None => match out.extension().and_then(|e| e.to_str()) {
            Some("xz") => Compression::Xz,
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        },
    };
    Ok((f, c))
}

fn record(
    out: &Path,
    format: &str,
    compression: Option<&str>,
    json: bool,
    command: &[String],
) -> Result<ExitCode, SimError> {
    let (f, c) = out_format(out, format, compression)?;
    let found = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        return Err(SimError::Input(
            "valgrind is not installed: `epc trace record` runs the program under valgrind's \
             lackey (install it, e.g. `apt-get install valgrind`)"
                .into(),
        ));
    }
    // lackey writes its trace to valgrind's log; a file next to the output
    // keeps it apart from the program's own output.
    let log = out.with_extension("lackey.tmp");
    let status = Command::new("valgrind")
        .arg("--tool=lackey")
        .arg("--trace-mem=yes")
        .arg(format!("--log-file={}", log.display()))
        .args(command)
        .status()
        .map_err(|e| SimError::Input(format!("running valgrind: {e}")))?;
    let converted = trace::convert(&log, out, f, c);
    let _ = std::fs::remove_file(&log);
    let n = converted.map_err(tr)?;
    if json {
        output::print_json(&serde_json::json!({
            "command": command,
            "exit_status": status.code(),
            "output": out.display().to_string(),
            "format": f.name(),
            "compression": c.name(),
            "refs": n,
        }))?;
    } else {
        eprintln!(
            "{n} data-page references written to {} ({f}, {c}); the program exited with {status}",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
