//! `epc run`: the JSON contract, the report folder, the default scenario
//! (shortened) exercising every path of the system, the summary table, and
//! Ctrl-C.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

fn check_run_contract(v: &serde_json::Value, dir: &std::path::Path) {
    check_counters(&v["counters"]);
    for k in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            v["latency_ns"]["fault"][k].is_u64(),
            "latency_ns.fault.{k}: {v}"
        );
    }
    assert!(
        v["integrity"]["pages_checked"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    assert_eq!(v["integrity"]["corrupt"], 0, "{v}");
    assert!(v["wall_seconds"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(v["modelled_cycles"].as_u64().unwrap_or(0) > 0);
    let enclaves = v["enclaves"].as_array().expect("enclaves");
    assert!(!enclaves.is_empty());
    for e in enclaves {
        // `true` only when the enclave layer kills an enclave (see the
        // report of the EWB retry ladder); never silent corruption.
        assert!(e["killed"].is_boolean(), "{e}");
        assert!(e["counters"]["faults"].is_u64(), "{e}");
    }
    for f in [
        "report.json",
        "timeseries.csv",
        "free_pages.svg",
        "free_pages.png",
        "rates.svg",
        "rates.png",
        "resident.svg",
        "resident.png",
    ] {
        let p = dir.join(f);
        assert!(
            p.metadata().map(|m| m.len() > 0).unwrap_or(false),
            "{} missing",
            p.display()
        );
    }
    let png = std::fs::read(dir.join("free_pages.png")).expect("png");
    assert_eq!(&png[1..4], b"PNG");
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).expect("csv");
    assert!(csv.starts_with("t_seconds,free_pages,low_watermark,high_watermark,faults,evictions"));
    assert!(csv.lines().count() >= 2);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("json"))
            .expect("valid");
    check_counters(&saved["counters"]);
}

#[test]
fn scenario_file_run_json_contract_and_report_folder() {
    let dir = scratch("run_small");
    let out = dir.join("report");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("small.toml"),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    check_run_contract(&v, &out);
    assert_eq!(v["scenario"], "small");
    assert_eq!(v["enclaves"].as_array().unwrap().len(), 2);
    assert!(v["counters"]["faults"].as_u64().unwrap() > 0);
}

#[test]
fn deterministic_scenario_reclaims_one_victim_per_fault() {
    let dir = scratch("run_det");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("deterministic.toml"),
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let c = &v["counters"];
    assert_eq!(c["ksgxd_wakeups"], 0);
    assert!(c["faults"].as_u64().unwrap() > 0);
    assert_eq!(c["evicted"], c["direct_reclaims"], "{c}");
}

#[test]
fn default_scenario_shortened_exercises_every_path() {
    let dir = scratch("run_default");
    let v = json(epc().args([
        "run",
        "--duration",
        "3",
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    check_run_contract(&v, &dir);
    let c = &v["counters"];
    for k in [
        "faults",
        "ewb",
        "eldu",
        "eblock",
        "etrack",
        "not_tracked",
        "ipis",
        "aex",
        "ksgxd_wakeups",
        "direct_reclaims",
        "batches",
        "second_chances",
        "evicted",
    ] {
        assert!(c[k].as_u64().unwrap_or(0) > 0, "{k} is zero: {c}");
    }
    // --duration stopped the threads (a liveness bound, not a speed target).
    assert!(v["wall_seconds"].as_f64().unwrap() < 120.0);
}

#[test]
fn summary_table_without_json() {
    let dir = scratch("run_table");
    let out = epc()
        .args([
            "run",
            "--scenario",
            &example("small.toml"),
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "faults",
        "ksgxd_wakeups",
        "second_chances",
        "p50",
        "MiB/s",
        "cycles",
        "OK:",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
}

#[test]
fn ctrl_c_stops_and_still_writes_the_report() {
    let dir = scratch("run_ctrlc");
    let bin = assert_cmd::cargo::cargo_bin("epc");
    let child = std::process::Command::new(bin)
        .args([
            "run",
            "--duration",
            "30",
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    std::thread::sleep(Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("waits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["interrupted"], true);
    assert!(v["wall_seconds"].as_f64().unwrap() < 20.0);
    assert!(dir.join("report.json").exists() && dir.join("rates.png").exists());
}

/// `epc` with no arguments is the default run (about 12 seconds).
#[test]
#[ignore = "runs the full default scenario (~12 s)"]
fn no_arguments_runs_the_default_scenario() {
    let dir = scratch("run_noargs");
    let out = epc().current_dir(&dir).output().expect("runs");
    assert!(out.status.success());
    assert!(dir.join("epc-report/report.json").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK:"));
}

#[test]
fn trace_workload_in_a_scenario() {
    let dir = scratch("run_trace_workload");
    let trace = dir.join("t.txt");
    let text: String = (0..5000u64)
        .map(|i| format!("{}\n", (i * 13) % 300))
        .collect();
    std::fs::write(&trace, text).unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "[epc]\npages = 128\n[manager]\nlow_watermark = 8\nhigh_watermark = 16\nbatch = 8\n\
             [[enclave]]\npages = 300\nthreads = 2\n[enclave.workload]\nkind = \"trace\"\n\
             path = {:?}\naccesses = 3000\nwrite_ratio = 0.2\n",
            trace.display().to_string()
        ),
    )
    .unwrap();
    let v = json(epc().args([
        "run",
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["accesses"], 6000);
    assert!(v["counters"]["faults"].as_u64().unwrap() >= 300);
}
