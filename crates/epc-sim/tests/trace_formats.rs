//! Trace reading and writing: every format and compression, recognised by
//! content, the error cases, and the statistics on a shared trace;
//! libCacheSim's oracleGeneral format from our own writer and from
//! hand-made bytes.

use epc_sim::trace::{
    convert, read_pages, Compression, OracleGeneralWriter, PageSplit, ReadOptions, TraceError,
    TraceFormat, TraceReader, TraceStats, TraceWriter,
};
use std::io::Write;
use std::path::{Path, PathBuf};

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../../shared/traces/{name}.trace.xz"))
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("epc-trace-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::File::create(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn reads_a_shared_xz_trace_and_its_stats() {
    let r = TraceReader::open(shared("cs")).unwrap();
    assert_eq!(r.compression(), Compression::Xz);
    assert_eq!(r.format(), TraceFormat::Text);
    let pages: Vec<u64> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(pages.len(), 6781);
    let s = TraceStats::of_file(shared("cs")).unwrap();
    assert_eq!((s.refs, s.distinct), (6781, 1409));
    assert!((s.footprint_mib - 1409.0 * 4096.0 / 1048576.0).abs() < 1e-9);
    assert_eq!(s.reuse.reuses, 6781 - 1409);
}

#[test]
fn every_format_and_compression_round_trips_by_content() {
    let d = tmpdir("rt");
    let pages = read_pages(shared("cpp")).unwrap();
    for format in [TraceFormat::Text, TraceFormat::Binary] {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
        ] {
            // A misleading name: detection must not look at it.
            let out = d.join(format!("t-{format}-{c}.txt.gz"));
            let n = convert(shared("cpp"), &out, format, c).unwrap();
            assert_eq!(n, pages.len() as u64);
            let r = TraceReader::open(&out).unwrap();
            assert_eq!((r.format(), r.compression()), (format, c));
            let back: Vec<u64> = r.collect::<Result<_, _>>().unwrap();
            assert_eq!(back, pages, "{format} {c}");
        }
    }
    let bin = std::fs::metadata(d.join("t-binary-none.txt.gz"))
        .unwrap()
        .len();
    let txt = std::fs::metadata(d.join("t-text-none.txt.gz"))
        .unwrap()
        .len();
    assert!(bin * 2 < txt, "binary {bin} text {txt}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn extreme_ids_round_trip() {
    let d = tmpdir("ext");
    let pages = [0, u64::MAX, 1, u64::MAX - 1, 1 << 63, 42];
    for format in [TraceFormat::Text, TraceFormat::Binary] {
        let p = d.join(format!("x-{format}"));
        let mut w = TraceWriter::create(&p, format, Compression::Zstd).unwrap();
        for &x in &pages {
            w.write(x).unwrap();
        }
        assert_eq!(w.finish().unwrap(), pages.len() as u64);
        assert_eq!(read_pages(&p).unwrap(), pages);
    }
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn lackey_output_becomes_collapsed_data_pages() {
    let d = tmpdir("lackey");
    let p = d.join("prog.lackey");
    write_file(
        &p,
        b"==123== Lackey, an example Valgrind tool\n\
==123== Command: /bin/true\n\
==123==\n\
I  04001100,3\n\
 L 04a1b2c0,4\n\
 S 04a1bff0,8\n\
I  04001103,2\n\
 M 04a1b008,8\n\
 L 04a1bffe,4\n\
 S 1fff000768,8\n\
 S 1fff000770,8\n\
 L 04a1b2c0,4\n\
==123== \n\
==123== Counted 1 calls to main()\n",
    );
    let r = TraceReader::open(&p).unwrap();
    assert_eq!(r.format(), TraceFormat::Lackey);
    let pages: Vec<u64> = r.collect::<Result<_, _>>().unwrap();
    // 04a1b2c0, 04a1bff0 and 04a1b008 share page 0x4a1b (one reference);
    // 04a1bffe,4 straddles into 0x4a1c; the two stack stores collapse.
    assert_eq!(pages, vec![0x4a1b, 0x4a1c, 0x1fff000, 0x4a1b]);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn malformed_line_names_file_and_line() {
    let d = tmpdir("bad");
    let p = d.join("bad.txt");
    write_file(&p, b"1\n2\n\n3x\n4\n");
    let err = read_pages(&p).unwrap_err();
    match &err {
        TraceError::Malformed { line, path, .. } => {
            assert_eq!(*line, 4);
            assert_eq!(path, &p);
        }
        e => panic!("{e}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("bad.txt:4:"), "{msg}");
    // Too large for u64.
    write_file(&p, b"18446744073709551616\n");
    assert!(matches!(
        read_pages(&p).unwrap_err(),
        TraceError::UnknownFormat { .. }
    ));
    write_file(&p, b"5\n18446744073709551616\n");
    assert!(matches!(
        read_pages(&p).unwrap_err(),
        TraceError::Malformed { line: 2, .. }
    ));
    // A bad line inside lackey output.
    write_file(&p, b" L 04a1b2c0,4\nhello\n");
    assert!(matches!(
        read_pages(&p).unwrap_err(),
        TraceError::Malformed { line: 2, .. }
    ));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn empty_and_unknown_are_errors() {
    let d = tmpdir("empty");
    let p = d.join("e");
    for content in [&b""[..], b"\n\n# only a comment\n"] {
        write_file(&p, content);
        let err = read_pages(&p).unwrap_err();
        assert!(matches!(err, TraceError::Empty { .. }), "{err}");
    }
    // An empty compressed file is empty too.
    let w = TraceWriter::create(&p, TraceFormat::Binary, Compression::Gzip).unwrap();
    w.finish().unwrap();
    assert!(matches!(
        read_pages(&p).unwrap_err(),
        TraceError::Empty { .. }
    ));
    write_file(&p, b"GET /index.html\n");
    let err = read_pages(&p).unwrap_err();
    assert!(matches!(err, TraceError::UnknownFormat { .. }), "{err}");
    write_file(&p, b"EPCTRACE\x09");
    assert!(matches!(
        read_pages(&p).unwrap_err(),
        TraceError::UnknownFormat { .. }
    ));
    assert!(TraceFormat::from_name("csv").is_err());
    let missing = d.join("missing");
    assert!(matches!(
        TraceReader::open(&missing).unwrap_err(),
        TraceError::Io { .. }
    ));
    std::fs::remove_dir_all(d).unwrap();
}

/// Hand-made oracleGeneral bytes: `(time, id, size, next)` per record.
fn oracle_bytes(records: &[(u32, u64, u32, i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(time, id, size, next) in records {
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&next.to_le_bytes());
    }
    out
}

#[test]
fn oracle_general_written_by_our_writer_reads_back_by_content() {
    let d = tmpdir("oracle-rt");
    let pages = read_pages(shared("cpp")).unwrap();
    for c in [Compression::None, Compression::Zstd] {
        let out = d.join(format!("cpp-{c}.txt"));
        let n = convert(shared("cpp"), &out, TraceFormat::OracleGeneral, c).unwrap();
        assert_eq!(n, pages.len() as u64);
        if c == Compression::None {
            assert_eq!(std::fs::metadata(&out).unwrap().len(), 24 * n);
        }
        let r = TraceReader::open(&out).unwrap();
        assert_eq!(
            (r.format(), r.compression()),
            (TraceFormat::OracleGeneral, c)
        );
        let back: Vec<u64> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(back, pages, "{c}");
    }
    // The library writer, with sizes: a block trace whose ids are byte
    // offsets, split into 4 KiB pages.
    let p = d.join("block.bin");
    let mut w = OracleGeneralWriter::new(std::fs::File::create(&p).unwrap());
    for (t, off, size) in [
        (1, 0u64, 4096u32),
        (2, 4096, 8192),
        (3, 6000, 100),
        (4, 0, 1),
    ] {
        w.push(t, off, size);
    }
    w.finish().unwrap();
    let split = ReadOptions {
        format: None,
        split: Some(PageSplit::BYTES_TO_4K),
    };
    let got: Vec<u64> = TraceReader::open_opts(&p, split)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, [0, 1, 2, 1, 0]);
    // Without splitting, one reference per object.
    assert_eq!(read_pages(&p).unwrap(), [0, 4096, 6000, 0]);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn oracle_general_hand_made_bytes() {
    let d = tmpdir("oracle-hand");
    let p = d.join("t.oracleGeneral");
    // Object 5 twice (the first says: next at record 3), a zero-size object
    // (skipped, as libCacheSim's cachesim does), object 9.
    let good = oracle_bytes(&[
        (10, 5, 4096, 3),
        (11, 77, 0, -1),
        (12, 5, 4096, -1),
        (13, 9, 512, -1),
    ]);
    write_file(&p, &good);
    let r = TraceReader::open(&p).unwrap();
    assert_eq!(r.format(), TraceFormat::OracleGeneral);
    assert_eq!(read_pages(&p).unwrap(), [5, 5, 9]);
    // A truncated last record: an error naming the file and the offset of
    // the record, after the whole records.
    write_file(&p, &good[..good.len() - 5]);
    let mut r = TraceReader::open(&p).unwrap();
    assert_eq!(r.next_page().unwrap(), Some(5));
    assert_eq!(r.next_page().unwrap(), Some(5));
    let err = r.next_page().unwrap_err();
    match &err {
        TraceError::Corrupt { offset, path, .. } => {
            assert_eq!(*offset, 72);
            assert_eq!(path, &p);
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("cut short"), "{err}");
    // Only zero-size objects: an empty trace.
    write_file(&p, &oracle_bytes(&[(1, 3, 0, -1)]));
    assert!(matches!(
        read_pages(&p).unwrap_err(),
        TraceError::Empty { .. }
    ));
    // Next-access fields inconsistent with the ids: not recognised, but
    // --format oracle-general reads it.
    let odd = oracle_bytes(&[(1, 5, 1, 0), (2, 6, 1, 0)]);
    write_file(&p, &odd);
    let err = read_pages(&p).unwrap_err();
    assert!(matches!(err, TraceError::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("--format oracle-general"), "{err}");
    let forced = ReadOptions {
        format: Some(TraceFormat::from_name("oracle-general").unwrap()),
        split: None,
    };
    let got: Vec<u64> = TraceReader::open_opts(&p, forced)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, [5, 6]);
    // Splitting a trace of pages is refused.
    write_file(&p, b"1\n2\n");
    let split = ReadOptions {
        format: None,
        split: Some(PageSplit::BYTES_TO_4K),
    };
    let err = TraceReader::open_opts(&p, split).unwrap_err();
    assert!(matches!(err, TraceError::Unsupported { .. }), "{err}");
    // Sector-addressed ids (id_unit 512), zstd-compressed.
    let zp = d.join("sectors.zst");
    let z = zstd::encode_all(&oracle_bytes(&[(1, 7, 1024, -1), (2, 16, 512, -1)])[..], 3).unwrap();
    write_file(&zp, &z);
    let sectors = ReadOptions {
        format: None,
        split: Some(PageSplit {
            page_size: 4096,
            id_unit: 512,
        }),
    };
    let r = TraceReader::open_opts(&zp, sectors).unwrap();
    assert_eq!(r.compression(), Compression::Zstd);
    let got: Vec<u64> = r.collect::<Result<_, _>>().unwrap();
    // Sectors 7-8 cover bytes 3584..4608: pages 0 and 1; sector 16 page 2.
    assert_eq!(got, [0, 1, 2]);
    std::fs::remove_dir_all(d).unwrap();
}
