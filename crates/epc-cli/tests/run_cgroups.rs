//! `epc run` with EPC cgroups: the example scenario, and Linux's cgroup
//! selftests (`tools/testing/selftests/sgx`, v16 of the series) rebuilt as
//! scenarios: enclaves as large as the EPC in groups limited to
//! CAPACITY/512, 4 × that, and CAPACITY, started at once on the timeline.

mod common;

use common::*;
use std::path::PathBuf;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

/// No page read back wrong; after the teardown every page is free (so
/// every group's usage is back to 0) and the manager's `validate()`, which
/// recomputes each group's usage from page ownership, holds.
fn check_integrity(v: &serde_json::Value) {
    assert_eq!(v["integrity"]["ok"], true, "{v}");
    assert_eq!(v["integrity"]["corrupt"], 0, "{v}");
    assert_eq!(v["integrity"]["pages_leaked"], 0, "{v}");
    assert!(v["integrity"]["manager_error"].is_null(), "{v}");
}

/// `examples/cgroups.toml`: groups held at their limits, a limit lowered
/// at run time, an enclave started late, one destroyed mid-run, and one
/// too large for its group that fails cleanly while the run succeeds.
#[test]
fn cgroups_example_holds_groups_at_their_limits() {
    let dir = scratch("run_cgroups");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("cgroups.toml"),
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    check_integrity(&v);
    let g = &v["cgroups"];
    for path in [
        "/",
        "/tenants",
        "/tenants/a",
        "/tenants/b",
        "/batch",
        "/tiny",
    ] {
        for k in ["low", "current", "peak", "events_max", "evicted", "faults"] {
            assert!(g[path][k].is_u64(), "cgroups[{path}].{k}: {g}");
        }
        assert!(g[path].get("max").is_some(), "{g}");
    }
    let n = |p: &str, k: &str| g[p][k].as_u64().unwrap();
    assert!(g["/"]["max"].is_null() && g["/tenants"]["max"].is_null());
    // Each tenant's enclave is larger than its limit: the group fills up
    // to its limit and no further, and hitting it is counted.
    for (p, max) in [("/tenants/a", 400), ("/tenants/b", 600)] {
        assert_eq!(n(p, "max"), max);
        assert!(n(p, "peak") <= max, "{p}: {g}");
        assert!(n(p, "peak") >= max * 3 / 4, "{p} never near its limit: {g}");
        assert!(n(p, "events_max") > 0 && n(p, "evicted") > 0, "{p}: {g}");
        assert!(n(p, "faults") > 0, "{p}: {g}");
    }
    assert_eq!(n("/tenants/b", "low"), 200);
    assert!(n("/tenants", "peak") <= 400 + 600);
    // set_max lowered /batch from 300 to 150 mid-run.
    assert_eq!(n("/batch", "max"), 150);
    assert!(n("/batch", "peak") <= 300, "{g}");
    assert!(n("/batch", "current") <= 150, "{g}");
    assert_eq!(n("/tiny", "current"), 0);
    assert!(n("/tiny", "events_max") > 0, "{g}");
    let enclaves = v["enclaves"].as_array().unwrap();
    let e = |name: &str| enclaves.iter().find(|e| e["name"] == name).unwrap();
    // Its group's limit stopped it (the message names the group when the
    // limit is still reached as the error is made).
    assert!(e("too-big")["failed"].is_string(), "{}", e("too-big"));
    assert_eq!(e("too-big")["killed"], false);
    for name in ["a-kv", "b-web", "b-doomed", "batch"] {
        assert!(e(name)["failed"].is_null(), "{}", e(name));
        assert!(e(name)["error"].is_null(), "{}", e(name));
        assert!(e(name)["accesses"].as_u64().unwrap() > 0, "{}", e(name));
    }
    assert!(e("b-doomed")["stopped_at"].as_f64().unwrap() >= 1.5);
    assert!(e("batch")["started_at"].as_f64().unwrap() >= 1.0);
    assert_eq!(v["events"][2]["kind"], "set_max");
    assert_eq!(v["events"][2]["cgroup"], "/batch");
    assert_eq!(v["events"][2]["detail"], "/batch max 150 pages");
    assert!(v["events"][2]["applied_at"].is_f64());
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(
            ",current_/,current_/tenants,current_/batch,current_/tiny,current_/tenants/a,current_/tenants/b"
        ),
        "{header}"
    );
    let png = std::fs::read(dir.join("cgroups.png")).expect("cgroups.png");
    assert_eq!(&png[1..4], b"PNG");
    assert!(dir.join("cgroups.svg").exists());
}

/// The EPC of the selftest scenarios with limits below it, in pages: large
/// enough that LARGE holds the fixed pages (SECS, VA, TCS, SSA) of about
/// two such enclaves, as Linux's LARGE holds about four.
const CAPACITY: u64 = 4096;

/// The EPC of the LARGER cases (eight enclaves as large as the EPC), kept
/// smaller so they run in a few seconds.
const CAPACITY_LARGER: u64 = 1024;

/// Runs `n` enclaves as large as the EPC (`capacity` pages) in a group
/// limited to `max`,
/// enclave `i` started at `i * stagger` seconds (all built at once, in
/// their own threads, as the selftests start their processes in the
/// background); `stop` destroys the first one mid-run. Returns the report
/// after checking integrity, and for each enclave whether it ran to the
/// end.
fn selftest(
    name: &str,
    capacity: u64,
    n: usize,
    max: u64,
    stagger: f64,
    stop: bool,
) -> (serde_json::Value, Vec<bool>) {
    let dir = scratch(name);
    let mut text = format!(
        "name = \"{name}\"\n[epc]\npages = {capacity}\ntlb_entries = 8\n\
         [manager]\nlow_watermark = 16\nhigh_watermark = 32\nbatch = 8\n\
         [[cgroup]]\npath = \"/test1\"\nmax = {max}\n\
         [[cgroup]]\npath = \"/test1/test3\"\n"
    );
    for i in 0..n {
        text += &format!(
            "[[enclave]]\nname = \"e{i}\"\npages = {capacity}\ncgroup = \"/test1/test3\"\n\
             [enclave.workload]\nkind = \"sequential\"\nwrite_ratio = 0.5\naccesses = {}\n\
             [[event]]\nat = {}\nkind = \"start_enclave\"\nenclave = \"e{i}\"\n",
            capacity,
            i as f64 * stagger
        );
    }
    if stop {
        text += "[[event]]\nat = 0.05\nkind = \"stop_enclave\"\nenclave = \"e0\"\n";
    }
    let v = run_scenario(&dir, &text);
    check_integrity(&v);
    let g = &v["cgroups"]["/test1"];
    assert!(
        g["peak"].as_u64().unwrap() <= max,
        "a charge passed the limit: {g}"
    );
    let passed = v["enclaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["killed"], false, "no enclave is killed for a limit: {e}");
            assert!(e["error"].is_null(), "{e}");
            let done = e["failed"].is_null() && e["stopped_at"].is_null();
            if done {
                assert_eq!(e["accesses"], capacity, "{e}");
            }
            done
        })
        .collect();
    (v, passed)
}

#[test]
fn selftest_small_limit_fails_cleanly() {
    let (v, passed) = selftest("cg_small", CAPACITY, 1, CAPACITY / 512, 0.0, false);
    assert_eq!(passed, [false]);
    let why = v["enclaves"][0]["failed"].as_str().unwrap();
    assert!(why.starts_with("building: "), "{why}");
    assert!(v["cgroups"]["/test1"]["events_max"].as_u64().unwrap() > 0);
}

/// Four enclaves need more than LARGE together, so some fail, cleanly.
/// Linux's selftest expects at least one to pass; here that holds most of
/// the time but not always: a group with nothing reclaimable refuses at
/// once (as v16 does), and builds that progress in lockstep can all reach
/// the limit in the same instant, before the first to fail frees its
/// pages. So this test checks the clean outcome, not the count (see the
/// report of the timeline branch).
#[test]
fn selftest_large_limit_four_at_once_end_cleanly() {
    let (v, passed) = selftest("cg_large4", CAPACITY, 4, 4 * (CAPACITY / 512), 0.0, false);
    for (e, ok) in v["enclaves"].as_array().unwrap().iter().zip(&passed) {
        assert!(*ok || e["failed"].is_string(), "{e}");
    }
}

#[test]
fn selftest_large_limit_five_at_once_one_fails() {
    let (_, passed) = selftest("cg_large5", CAPACITY, 5, 4 * (CAPACITY / 512), 0.0, false);
    assert!(passed.iter().any(|&p| !p), "{passed:?}");
}

#[test]
fn selftest_capacity_limit_eight_pass_even_with_one_killed() {
    let (_, passed) = selftest("cg_larger", CAPACITY_LARGER, 8, CAPACITY_LARGER, 0.0, false);
    assert!(passed.iter().all(|&p| p), "{passed:?}");
    let (v, passed) = selftest(
        "cg_larger_kill",
        CAPACITY_LARGER,
        8,
        CAPACITY_LARGER,
        0.0,
        true,
    );
    assert!(v["enclaves"][0]["stopped_at"].is_f64(), "{v}");
    assert!(passed[1..].iter().all(|&p| p), "{passed:?}");
}
