//! Bad input: each case is one clear line on standard error and exit
//! status 2, never a panic or a backtrace.

mod common;

use common::*;
use std::path::PathBuf;

fn scenario(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str = r#"
[epc]
pages = 256
[[enclave]]
pages = 100
[enclave.workload]
kind = "uniform"
accesses = 100
"#;

#[test]
fn good_base_scenario_runs() {
    let dir = scratch("bad_base");
    let s = scenario(&dir, "good.toml", GOOD);
    json(epc().args([
        "run",
        "--scenario",
        &s,
        "--out",
        dir.join("r").to_str().unwrap(),
        "--json",
    ]));
}

#[test]
fn missing_scenario_file() {
    bad_input(
        epc().args(["run", "--scenario", "/nonexistent/x.toml"]),
        "/nonexistent/x.toml",
    );
}

#[test]
fn scenario_unknown_field_is_named() {
    let dir = scratch("bad_field");
    let s = scenario(
        &dir,
        "s.toml",
        &GOOD.replace(
            "kind = \"uniform\"",
            "kind = \"uniform\"\nwrite_ration = 0.5",
        ),
    );
    bad_input(epc().args(["run", "--scenario", &s]), "write_ration");
}

#[test]
fn scenario_invalid_value_names_the_field() {
    let dir = scratch("bad_value");
    let s = scenario(
        &dir,
        "s.toml",
        &GOOD.replace("accesses = 100", "accesses = 100\nwrite_ratio = 1.5"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "enclave[0].workload.write_ratio",
    );
    let s = scenario(&dir, "k.toml", &GOOD.replace("uniform", "zipfian"));
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "enclave[0].workload.kind",
    );
    let s = scenario(
        &dir,
        "t.toml",
        &GOOD.replace("pages = 100", "pages = \"many\""),
    );
    bad_input(epc().args(["run", "--scenario", &s]), "line");
}

#[test]
fn scenario_contradictory_values_name_the_field() {
    let dir = scratch("bad_contra");
    let s = scenario(
        &dir,
        "s.toml",
        &format!("{GOOD}\n[manager]\nlow_watermark = 40\nhigh_watermark = 20\n"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "manager.low_watermark",
    );
    let s = scenario(
        &dir,
        "b.toml",
        &GOOD.replace("accesses = 100", "accesses = 100\nseconds = 2"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "enclave[0].workload.accesses",
    );
    let s = scenario(
        &dir,
        "p.toml",
        &format!("{GOOD}\n[manager]\npolicy = \"nope\"\n"),
    );
    bad_input(epc().args(["run", "--scenario", &s]), "manager.policy");
}

#[test]
fn scenario_unknown_watermark_mode_names_file_and_field() {
    let dir = scratch("bad_watermarks");
    let s = scenario(
        &dir,
        "w.toml",
        &format!("{GOOD}\n[manager]\nwatermarks = \"boosted\"\n"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        &format!("{s}: manager.watermarks"),
    );
}

#[test]
fn epc_too_small_for_the_scenario_says_the_minimum() {
    let dir = scratch("bad_small");
    let s = scenario(&dir, "s.toml", &GOOD.replace("pages = 256", "pages = 20"));
    bad_input(epc().args(["run", "--scenario", &s]), "at least");
}

fn trace(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn replay_missing_file() {
    bad_input(
        epc().args(["replay", "/nonexistent/trace.txt"]),
        "/nonexistent/trace.txt",
    );
    bad_input(
        epc().args(["trace", "stats", "/nonexistent/trace.txt"]),
        "/nonexistent/trace.txt",
    );
}

#[test]
fn malformed_trace_line_names_the_line() {
    let dir = scratch("bad_line");
    let t = trace(&dir, "t.txt", "1\n2\nthree\n4\n");
    bad_input(epc().args(["replay", &t, "--epc-pages", "64"]), ":3");
    bad_input(epc().args(["trace", "stats", &t]), ":3");
}

#[test]
fn empty_trace() {
    let dir = scratch("bad_empty");
    let t = trace(&dir, "t.txt", "");
    bad_input(epc().args(["replay", &t]), "empty");
    bad_input(epc().args(["trace", "stats", &t]), "empty");
}

#[test]
fn unknown_policy_and_format() {
    let dir = scratch("bad_names");
    let t = trace(&dir, "t.txt", "1\n2\n");
    bad_input(
        epc().args(["replay", &t, "--policy", "nope"]),
        "unknown policy",
    );
    bad_input(epc().args(["replay", &t, "--format", "nope"]), "nope");
    bad_input(
        epc().args([
            "trace",
            "convert",
            &t,
            dir.join("o").to_str().unwrap(),
            "--format",
            "nope",
        ]),
        "nope",
    );
    bad_input(
        epc().args([
            "trace",
            "convert",
            &t,
            dir.join("o").to_str().unwrap(),
            "--compression",
            "rar",
        ]),
        "rar",
    );
    let junk = trace(&dir, "junk.txt", "hello world\n");
    bad_input(
        epc().args(["trace", "stats", &junk]),
        "unknown trace format",
    );
}

#[test]
fn replay_epc_too_small_says_the_minimum() {
    let dir = scratch("bad_replay_small");
    let t = trace(&dir, "t.txt", "1\n2\n3\n");
    bad_input(epc().args(["replay", &t, "--epc-pages", "4"]), "at least 5");
}

#[test]
fn bad_events_name_the_file_and_field() {
    let dir = scratch("bad_events");
    let with = |name: &str, event: &str| {
        scenario(
            &dir,
            name,
            &format!("duration_seconds = 5\n{GOOD}\n[[event]]\n{event}\n"),
        )
    };
    let s = with(
        "kind.toml",
        "at = 1\nkind = \"explode\"\nenclave = \"enclave0\"",
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "kind.toml: event[0].kind: unknown event kind \"explode\"",
    );
    let s = with(
        "who.toml",
        "at = 1\nkind = \"stop_enclave\"\nenclave = \"nobody\"",
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "who.toml: event[0].enclave: no enclave is named \"nobody\"",
    );
    let s = with(
        "late.toml",
        "at = 5\nkind = \"stop_enclave\"\nenclave = \"enclave0\"",
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "late.toml: event[0].at: 5 is not inside the run",
    );
    let s = with(
        "neg.toml",
        "at = -2\nkind = \"start_enclave\"\nenclave = \"enclave0\"",
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "neg.toml: event[0].at",
    );
    let s = with(
        "extra.toml",
        "at = 1\nkind = \"stop_enclave\"\nenclave = \"enclave0\"\ncgroupp = \"/a\"",
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "extra.toml: event[0].cgroupp: unknown field",
    );
    let s = with(
        "poison.toml",
        "at = 1\nkind = \"poison\"\nfree = true\nenclave = \"enclave0\"",
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "poison.toml: event[0].free: give either enclave",
    );
    let s = with("free.toml", "at = 1\nkind = \"poison\"\nfree = \"yes\"");
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "free.toml: event[0].free: must be true or false",
    );
    let s = with("bare.toml", "at = 1\nkind = \"poison\"");
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "bare.toml: event[0].enclave: missing",
    );
    let s = with("suspend.toml", "at = 1\nkind = \"suspend\"\nrestart = true");
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "suspend.toml: event[0].restart: unknown field",
    );
}

#[test]
fn bad_cgroups_name_the_file_and_field() {
    let dir = scratch("bad_cgroups");
    let s = scenario(
        &dir,
        "parent.toml",
        &format!("{GOOD}\n[[cgroup]]\npath = \"/a/b\"\nmax = 10\n"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "parent.toml: cgroup[0].path: the parent group \"/a\" is not declared",
    );
    let s = scenario(
        &dir,
        "max.toml",
        &format!("{GOOD}\n[[cgroup]]\npath = \"/a\"\nmax = \"lots\"\n"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "max.toml: cgroup[0].max: must be a number of pages or \"max\"",
    );
    let s = scenario(
        &dir,
        "enclave.toml",
        &GOOD.replace("pages = 100", "pages = 100\ncgroup = \"/x\""),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "enclave.toml: enclave[0].cgroup: no [[cgroup]] has the path \"/x\"",
    );
    let s = scenario(
        &dir,
        "event.toml",
        &format!(
            "{GOOD}\n[[cgroup]]\npath = \"/a\"\n[[event]]\nat = 0.1\nkind = \"set_max\"\n\
             cgroup = \"/b\"\nmax = 5\n"
        ),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "event.toml: event[0].cgroup: no [[cgroup]] has the path \"/b\"",
    );
}

#[test]
fn bad_edmm_fields_name_the_field() {
    let dir = scratch("bad_edmm");
    let s = scenario(
        &dir,
        "i.toml",
        &GOOD.replace("pages = 100", "pages = 100\ninitial_pages = 101"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "enclave[0].initial_pages",
    );
    let s = scenario(
        &dir,
        "h.toml",
        &GOOD.replace("kind = \"uniform\"", "kind = \"heap\"\nchunk_pages = 0"),
    );
    bad_input(
        epc().args(["run", "--scenario", &s]),
        "enclave[0].workload.chunk_pages",
    );
    let t = trace(&dir, "t.txt", "1\n2\n");
    bad_input(epc().args(["replay", &t, "--build", "later"]), "--build");
}
