//! `epc trace`: stats, convert (round trip through binary and zstd), and
//! record (valgrind's lackey, or a clear message without it).

mod common;

use common::*;

#[test]
fn stats_of_a_text_trace() {
    let dir = scratch("trace_stats");
    let t = dir.join("t.txt");
    std::fs::write(&t, "1\n2\n1\n3\n1\n").unwrap();
    let v = json(epc().args(["trace", "stats", t.to_str().unwrap(), "--json"]));
    assert_eq!(v["refs"], 5);
    assert_eq!(v["distinct"], 3);
    assert!(v["footprint_mib"].as_f64().unwrap() > 0.0);
    assert!(v["reuse"].is_object());
    assert_eq!(v["format"], "text");
    let out = epc()
        .args(["trace", "stats", t.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("distinct pages"));
}

#[test]
fn convert_round_trips_through_binary_zstd() {
    let dir = scratch("trace_convert");
    let t = dir.join("t.txt");
    let text: String = (0..1000u64)
        .map(|i| format!("{}\n", (i * 31) % 97 + (1 << 40)))
        .collect();
    std::fs::write(&t, &text).unwrap();
    let b = dir.join("t.bin.zst");
    let v = json(epc().args([
        "trace",
        "convert",
        t.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "binary",
        "--json",
    ]));
    assert_eq!(v["refs"], 1000);
    assert_eq!(v["compression"], "zstd");
    let back = dir.join("back.txt");
    json(epc().args([
        "trace",
        "convert",
        b.to_str().unwrap(),
        back.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(std::fs::read_to_string(back).unwrap(), text);
    let s = json(epc().args(["trace", "stats", b.to_str().unwrap(), "--json"]));
    assert_eq!(s["distinct"], 97);
    assert_eq!(s["format"], "binary");
}

#[test]
fn record_without_valgrind_says_so() {
    let dir = scratch("trace_record_none");
    bad_input(
        epc().env("PATH", dir.to_str().unwrap()).args([
            "trace",
            "record",
            "-o",
            dir.join("x.txt").to_str().unwrap(),
            "--",
            "true",
        ]),
        "valgrind is not installed",
    );
}

#[test]
fn record_with_valgrind_writes_a_trace() {
    let have = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("valgrind not installed: skipped");
        return;
    }
    let dir = scratch("trace_record");
    let out = dir.join("true.trace");
    let v = json(epc().args([
        "trace",
        "record",
        "-o",
        out.to_str().unwrap(),
        "--json",
        "--",
        "true",
    ]));
    assert!(v["refs"].as_u64().unwrap() > 100, "{v}");
    let s = json(epc().args(["trace", "stats", out.to_str().unwrap(), "--json"]));
    assert_eq!(s["refs"], v["refs"]);
}

/// One oracleGeneral record (libCacheSim's 24-byte little-endian layout).
fn oracle_record(out: &mut Vec<u8>, time: u32, id: u64, size: u32, next: i64) {
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&next.to_le_bytes());
}

#[test]
fn oracle_general_stats_convert_and_page_split() {
    let dir = scratch("trace_oracle");
    let t = dir.join("t.txt");
    std::fs::write(&t, "1\n2\n1\n3\n1\n").unwrap();
    // Text to oracleGeneral (zstd) and back, recognised by content.
    let o = dir.join("t.oracleGeneral.zst");
    let v = json(epc().args([
        "trace",
        "convert",
        t.to_str().unwrap(),
        o.to_str().unwrap(),
        "--format",
        "oracle-general",
        "--json",
    ]));
    assert_eq!(
        (v["refs"].as_u64(), v["compression"].as_str()),
        (Some(5), Some("zstd"))
    );
    let s = json(epc().args(["trace", "stats", o.to_str().unwrap(), "--json"]));
    assert_eq!(
        (s["refs"].as_u64(), s["distinct"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(s["format"], "oracle-general");
    let back = dir.join("back.txt");
    json(epc().args([
        "trace",
        "convert",
        o.to_str().unwrap(),
        back.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "1\n2\n1\n3\n1\n");
    // A block trace: byte offsets and sizes, split into 4 KiB pages.
    let b = dir.join("block.bin");
    let mut bytes = Vec::new();
    oracle_record(&mut bytes, 1, 0, 8192, 3);
    oracle_record(&mut bytes, 2, 4096, 0, -1);
    oracle_record(&mut bytes, 3, 0, 8192, -1);
    std::fs::write(&b, &bytes).unwrap();
    let s = json(epc().args([
        "trace",
        "stats",
        b.to_str().unwrap(),
        "--page-size",
        "4096",
        "--json",
    ]));
    assert_eq!(
        (s["refs"].as_u64(), s["distinct"].as_u64()),
        (Some(4), Some(2))
    );
    // A truncated record, bad sizes, and splitting a trace of pages.
    let cut = dir.join("cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    bad_input(
        epc().args(["trace", "stats", cut.to_str().unwrap()]),
        "cut short",
    );
    bad_input(
        epc().args(["trace", "stats", b.to_str().unwrap(), "--page-size", "0"]),
        "--page-size",
    );
    bad_input(
        epc().args(["trace", "stats", b.to_str().unwrap(), "--id-unit", "512"]),
        "--id-unit",
    );
    bad_input(
        epc().args(["trace", "stats", t.to_str().unwrap(), "--page-size", "4096"]),
        "pages already",
    );
    bad_input(
        epc().args(["trace", "stats", t.to_str().unwrap(), "--format", "csv"]),
        "--format",
    );
}
