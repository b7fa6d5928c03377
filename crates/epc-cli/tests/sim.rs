//! `epc sim` and `epc mrc`: the JSON contract, the files `mrc` writes, bad
//! input, and the equivalence: for every live-capable policy, the
//! misses of `epc sim --drive live` at `capacity_pages` equal the faults of
//! a deterministic replay with no TLB through the whole system.

mod common;

use common::*;
use std::path::PathBuf;

fn shared_trace(name: &str) -> PathBuf {
    common::shared_trace(name).expect("the shared traces are beside the project")
}

#[test]
fn sim_json_contract() {
    let v = json(
        epc()
            .args(["sim", "--capacity", "10%", "--policy", "clock", "--json"])
            .arg(shared_trace("cs")),
    );
    assert_eq!(v["refs"], 6781);
    assert_eq!(v["distinct"], 1409);
    assert_eq!(v["capacity"], 140);
    assert_eq!(v["policy"], "clock");
    let misses = v["misses"].as_u64().unwrap();
    let ratio = v["miss_ratio"].as_f64().unwrap();
    assert!((ratio - misses as f64 / 6781.0).abs() < 1e-12);
}

#[test]
fn sim_rejects_bad_input() {
    let t = shared_trace("cs");
    bad_input(
        epc()
            .args(["sim", "--capacity", "10%", "--policy", "nope"])
            .arg(&t),
        "unknown policy",
    );
    bad_input(
        epc().args(["sim", "--capacity", "lots"]).arg(&t),
        "capacity",
    );
    bad_input(
        epc()
            .args(["sim", "--capacity", "5", "--drive", "fast"])
            .arg(&t),
        "--drive",
    );
    bad_input(
        epc().args(["sim", "--capacity", "5", "no/such/trace.txt"]),
        "no/such/trace.txt",
    );
}

#[test]
fn mrc_writes_table_csv_and_plots() {
    let dir = scratch("mrc");
    let v = json(
        epc()
            .args([
                "mrc",
                "--policies",
                "clock,lru",
                "--sizes",
                "5%,20%",
                "--json",
                "--out",
            ])
            .arg(&dir)
            .arg(shared_trace("cs")),
    );
    let names: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"opt"), "OPT is the floor: {names:?}");
    for f in ["mrc.csv", "mrc.svg", "mrc.png"] {
        assert!(dir.join(f).metadata().unwrap().len() > 0, "{f}");
    }
    // OPT is never above any other policy.
    let misses = v["misses"].as_array().unwrap();
    let opt = misses.last().unwrap().as_array().unwrap();
    for row in misses {
        for (m, o) in row.as_array().unwrap().iter().zip(opt) {
            assert!(m.as_u64() >= o.as_u64());
        }
    }
    bad_input(
        epc().args(["mrc", "--sizes", ""]).arg(shared_trace("cs")),
        "--sizes",
    );
}

#[test]
fn live_policies_in_sim_equal_deterministic_replay() {
    for trace in ["cs", "gli"] {
        // Every live policy of the manager's one table.
        for kind in epc_mm::PolicyKind::ALL {
            let policy = kind.short_name();
            let r = json(
                epc()
                    .args([
                        "replay",
                        "--epc-pages",
                        "300",
                        "--deterministic",
                        "--tlb-entries",
                        "0",
                    ])
                    .args(["--policy", policy, "--json"])
                    .arg(shared_trace(trace)),
            );
            let cap = r["capacity_pages"].as_u64().unwrap().to_string();
            let s = json(
                epc()
                    .args([
                        "sim",
                        "--capacity",
                        &cap,
                        "--policy",
                        policy,
                        "--drive",
                        "live",
                        "--json",
                    ])
                    .arg(shared_trace(trace)),
            );
            assert_eq!(
                r["faults"], s["misses"],
                "{trace} {policy}: replay faults vs sim misses at {cap} pages"
            );
        }
    }
}

#[test]
fn sim_reads_an_oracle_general_trace_like_its_source() {
    let dir = scratch("sim_oracle");
    let o = dir.join("cs.oracleGeneral");
    let cs = shared_trace("cs");
    json(epc().args(["trace", "convert"]).arg(&cs).arg(&o).args([
        "--format",
        "oracle-general",
        "--json",
    ]));
    let run = |t: &std::path::Path| {
        json(
            epc()
                .args(["sim", "--capacity", "10%", "--policy", "lru", "--json"])
                .arg(t),
        )
    };
    let (a, b) = (run(&cs), run(&o));
    assert_eq!(a["misses"], b["misses"]);
    assert_eq!(a["distinct"], b["distinct"]);
    // Forcing the format works too; forcing a wrong one is bad input.
    let forced = json(
        epc()
            .args(["sim", "--capacity", "10%", "--policy", "lru", "--json"])
            .args(["--format", "oracle-general"])
            .arg(&o),
    );
    assert_eq!(forced["misses"], a["misses"]);
    bad_input(
        epc()
            .args(["sim", "--capacity", "10%", "--format", "text"])
            .arg(&o),
        "malformed",
    );
}

#[test]
fn mrc_sample_estimates_and_rate_one_is_exact() {
    let dir = scratch("mrc_sample");
    let t = shared_trace("cpp");
    let run = |extra: &[&str]| {
        json(
            epc()
                .args([
                    "mrc",
                    "--policies",
                    "lru,clock",
                    "--sizes",
                    "5%,20%",
                    "--json",
                ])
                .args(extra)
                .arg("--out")
                .arg(&dir)
                .arg(&t),
        )
    };
    let exact = run(&[]);
    assert!(exact["sample"].is_null());
    let one = run(&["--sample", "100%"]);
    assert_eq!(one["misses"], exact["misses"]);
    assert_eq!(one["sample"]["rate"], 1.0);
    let tenth = run(&["--sample", "0.1"]);
    let s = &tenth["sample"];
    assert!(s["refs"].as_u64().unwrap() < 9047 / 4, "{s}");
    assert_eq!(tenth["refs"], 9047);
    bad_input(epc().args(["mrc", "--sample", "2"]).arg(&t), "--sample");
    let tiny = dir.join("tiny.txt");
    std::fs::write(&tiny, "1\n").unwrap();
    bad_input(
        epc().args(["mrc", "--sample", "0.000001"]).arg(&tiny),
        "raise the rate",
    );
}

#[test]
fn sim_help_lists_every_policy_of_the_tables() {
    let out = epc().args(["sim", "--help"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for kind in epc_mm::PolicyKind::ALL {
        assert!(text.contains(kind.short_name()), "{kind}: {text}");
    }
    for p in epc_sim::offline::SimPolicy::all() {
        assert!(text.contains(p.name()), "{p}: {text}");
    }
}
