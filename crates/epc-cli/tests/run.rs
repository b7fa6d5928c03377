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
    // After the teardown every page is free and the manager consistent.
    assert_eq!(v["integrity"]["pages_leaked"], 0, "{v}");
    assert!(v["integrity"]["manager_error"].is_null(), "{v}");
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
        "cgroups.svg",
        "cgroups.png",
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
    // The root group is always there; every enclave says whether it failed.
    assert!(v["cgroups"]["/"]["current"].is_u64(), "{v}");
    for e in v["enclaves"].as_array().unwrap() {
        assert!(e.get("failed").is_some(), "{e}");
    }
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
        "batches",
        "second_chances",
        "evicted",
    ] {
        assert!(c[k].as_u64().unwrap_or(0) > 0, "{k} is zero: {c}");
    }
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    // Faulting threads reclaimed too: in the assisted default, batches
    // that help ksgxd before the free lists run dry, or direct reclaims
    // once they did.
    assert!(
        n("direct_reclaims") + n("assisted") > 0,
        "no faulting thread reclaimed: {c}"
    );
    // ksgxd reclaimed: with adaptive watermarks under constant pressure it
    // may be woken during the build and never sleep in the measured run
    // (no new wake-up), so count its batches: all batches less those of
    // direct reclaims and assists (one batch each at most).
    assert!(
        n("ksgxd_wakeups") > 0 || n("batches") > n("direct_reclaims") + n("assisted"),
        "ksgxd never reclaimed: {c}"
    );
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

/// Ctrl-C during the run (after a build short enough to be over by then,
/// even on a loaded machine): the threads stop, an enclave still to start
/// never does, and the report is written.
#[test]
fn ctrl_c_stops_and_still_writes_the_report() {
    let dir = scratch("run_ctrlc");
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "[epc]\npages = 512\n\
         [[enclave]]\nname = \"long\"\npages = 700\nthreads = 2\n\
         [enclave.workload]\nkind = \"uniform\"\nwrite_ratio = 0.3\nseconds = 30\n\
         [[enclave]]\nname = \"later\"\npages = 100\n\
         [enclave.workload]\nkind = \"uniform\"\nseconds = 5\n\
         [[event]]\nat = 25\nkind = \"start_enclave\"\nenclave = \"later\"\n",
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("epc");
    // On a loaded machine the build may outlast the wait: a Ctrl-C then
    // ends the command with 130 and one line (nothing to report yet), and
    // the test waits longer before the next try.
    let mut out = None;
    for wait_ms in [1500, 4000, 10_000] {
        let child = std::process::Command::new(&bin)
            .args([
                "run",
                "--scenario",
                scenario.to_str().unwrap(),
                "--json",
                "--out",
                dir.join("r").to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawns");
        std::thread::sleep(Duration::from_millis(wait_ms));
        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let o = child.wait_with_output().expect("waits");
        let stderr = String::from_utf8_lossy(&o.stderr);
        if o.status.code() == Some(130) {
            assert!(stderr.contains("interrupted while building"), "{stderr}");
            assert!(o.stdout.is_empty());
            continue;
        }
        assert!(o.status.success(), "{stderr}");
        out = Some(o);
        break;
    }
    let out = out.expect("the build outlasted every wait");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["interrupted"], true);
    assert!(v["wall_seconds"].as_f64().unwrap() < 20.0);
    assert!(v["events"][0]["applied_at"].is_null(), "{v}");
    assert!(v["enclaves"][1]["started_at"].is_null(), "{v}");
    assert_eq!(v["integrity"]["ok"], true);
    let r = dir.join("r");
    assert!(r.join("report.json").exists() && r.join("rates.png").exists());
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
    let v = run_scenario(
        &dir,
        &format!(
            "[epc]\npages = 128\n[manager]\nlow_watermark = 8\nhigh_watermark = 16\nbatch = 8\n\
             [[enclave]]\npages = 300\nthreads = 2\n[enclave.workload]\nkind = \"trace\"\n\
             path = {:?}\naccesses = 3000\nwrite_ratio = 0.2\n",
            trace.display().to_string()
        ),
    );
    assert_eq!(v["accesses"], 6000);
    assert!(v["counters"]["faults"].as_u64().unwrap() >= 300);
}

/// `[manager] watermarks = "fixed"`: Linux's 32/64 stay put under reclaim
/// pressure (the adaptive default would be free to raise them).
#[test]
fn fixed_watermarks_scenario_keeps_linux_watermarks() {
    let dir = scratch("run_fixed_watermarks");
    let v = run_scenario(
        &dir,
        "[epc]\npages = 256\n[manager]\nwatermarks = \"fixed\"\n\
         [[enclave]]\npages = 400\nthreads = 2\n[enclave.workload]\nkind = \"uniform\"\n\
         accesses = 4000\nwrite_ratio = 0.3\n",
    );
    assert_eq!(v["watermarks"], "fixed");
    assert_eq!(v["low_watermark"], 32);
    assert_eq!(v["high_watermark"], 64);
    assert_eq!(v["effective_low_watermark"], 32, "{v}");
    assert_eq!(v["effective_high_watermark"], 64, "{v}");
    // There was pressure for the watermarks to resist.
    assert!(
        v["counters"]["evicted"].as_u64().unwrap() > 0,
        "{}",
        v["counters"]
    );
}

/// `examples/timeline.toml`: an enclave started a second in, one destroyed
/// mid-run while its threads work; the others are checked page by page.
#[test]
fn timeline_starts_an_enclave_late_and_stops_one_mid_run() {
    let dir = scratch("run_timeline");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("timeline.toml"),
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    check_run_contract(&v, &dir);
    assert_eq!(v["integrity"]["ok"], true, "{v}");
    let enclaves = v["enclaves"].as_array().unwrap();
    let by_name = |n: &str| {
        enclaves
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {v}"))
    };
    for e in enclaves {
        assert!(e["failed"].is_null(), "{e}");
        assert_eq!(e["killed"], false, "{e}");
        assert!(e["error"].is_null(), "{e}");
        assert!(e["accesses"].as_u64().unwrap() > 0, "{e}");
    }
    let (steady, late, doomed) = (by_name("steady"), by_name("late"), by_name("doomed"));
    assert_eq!(steady["started_at"], 0.0);
    assert!(steady["stopped_at"].is_null());
    assert!(late["started_at"].as_f64().unwrap() >= 1.0, "{late}");
    assert!(doomed["stopped_at"].as_f64().unwrap() >= 1.5, "{doomed}");
    assert_eq!(doomed["resident_pages_at_end"], 0, "{doomed}");
    // The destroyed enclave's pages are gone: only the others are checked.
    assert_eq!(v["integrity"]["pages_checked"], 600 + 500);
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["kind"], "start_enclave");
    assert_eq!(events[0]["enclave"], "late");
    assert_eq!(events[1]["kind"], "stop_enclave");
    for e in events {
        assert!(
            e["applied_at"].as_f64().unwrap() >= e["at"].as_f64().unwrap(),
            "{e}"
        );
    }
    // The time series shows the late enclave absent at first and the
    // destroyed one empty at the end.
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows[0][col("resident_late")], "0");
    assert_eq!(rows.last().unwrap()[col("resident_doomed")], "0");
    assert_ne!(rows.last().unwrap()[col("resident_late")], "0");
}

/// The run waits for an enclave still to start even when every thread is
/// done, and does not wait for other events after the last thread.
#[test]
fn timeline_waits_for_starts_only() {
    let dir = scratch("run_timeline_wait");
    let v = run_scenario(
        &dir,
        "[epc]\npages = 256\n\
         [[enclave]]\nname = \"first\"\npages = 50\n[enclave.workload]\nkind = \"uniform\"\naccesses = 100\n\
         [[enclave]]\nname = \"second\"\npages = 50\n[enclave.workload]\nkind = \"uniform\"\naccesses = 100\n\
         [[event]]\nat = 0.3\nkind = \"start_enclave\"\nenclave = \"second\"\n\
         [[event]]\nat = 600\nkind = \"stop_enclave\"\nenclave = \"first\"\n",
    );
    assert_eq!(v["accesses"], 200, "{v}");
    assert!(v["events"][0]["applied_at"].as_f64().unwrap() >= 0.3);
    assert!(v["events"][1]["applied_at"].is_null(), "{v}");
    assert!(v["enclaves"][0]["stopped_at"].is_null());
    assert_eq!(v["integrity"]["pages_checked"], 100);
    // A liveness bound: the stop at 600 s was not waited for.
    assert!(v["wall_seconds"].as_f64().unwrap() < 120.0);
}

/// A `stop_enclave` that comes while the enclave is still being built (a
/// large enclave, started late): the build gives up or the enclave is
/// destroyed when built, nothing leaks, and the other enclave is checked.
#[test]
fn timeline_stop_during_a_late_build() {
    let dir = scratch("run_timeline_stop_build");
    let v = run_scenario(
        &dir,
        "duration_seconds = 2\n[epc]\npages = 512\n\
         [[enclave]]\nname = \"steady\"\npages = 300\n[enclave.workload]\nkind = \"uniform\"\nseconds = 1\n\
         [[enclave]]\nname = \"big\"\npages = 8000\n[enclave.workload]\nkind = \"uniform\"\nseconds = 1\n\
         [[event]]\nat = 0.1\nkind = \"start_enclave\"\nenclave = \"big\"\n\
         [[event]]\nat = 0.12\nkind = \"stop_enclave\"\nenclave = \"big\"\n",
    );
    assert_eq!(v["integrity"]["ok"], true, "{v}");
    assert_eq!(v["integrity"]["pages_leaked"], 0, "{v}");
    assert_eq!(v["integrity"]["pages_checked"], 300, "{v}");
    let big = &v["enclaves"][1];
    assert!(big["stopped_at"].is_f64(), "{big}");
    assert_eq!(big["killed"], false, "{big}");
    assert!(big["error"].is_null() && big["failed"].is_null(), "{big}");
    assert_eq!(big["resident_pages_at_end"], 0, "{big}");
    // 8000 pages take far longer than 20 ms to build: it never ran.
    assert_eq!(big["accesses"], 0, "{big}");
}

/// `examples/edmm.toml`: a heap enclave that grows and shrinks and a
/// dynamic enclave growing by EAUG, together past the EPC: every SGX2
/// counter is non-zero, no access error, integrity OK.
#[test]
fn edmm_scenario_shows_every_sgx2_flow_with_integrity() {
    let dir = scratch("run_edmm");
    let out = dir.join("report");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("edmm.toml"),
        "--duration",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    check_run_contract(&v, &out);
    let c = &v["counters"];
    for k in ["eaug", "eaccept", "emodpr", "emodt", "eremove_trim", "ewb"] {
        assert!(c[k].as_u64().unwrap() > 0, "{k}: {c}");
    }
    assert_eq!(c["access_errors"], 0, "{c}");
    assert_eq!(v["integrity"]["ok"], true, "{}", v["integrity"]);
    assert_eq!(v["integrity"]["corrupt"], 0);
}
