//! `examples/churn.toml`: enclaves coming and going, a memory failure in a
//! resident page of one enclave and in a free page, and a suspend that
//! loses the EPC with one enclave rebuilt. The poisoned and lost enclaves
//! are reported apart from corruption, the rest is checked page by page,
//! and the run succeeds.

mod common;

use common::*;

fn example(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn churn_reports_poisoned_and_lost_enclaves_apart_and_checks_the_rest() {
    let dir = scratch("run_churn");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("churn.toml"),
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let enclaves = v["enclaves"].as_array().unwrap();
    let by_name = |n: &str| {
        enclaves
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {v}"))
    };
    let victim = by_name("victim");
    assert_eq!(victim["killed"], true, "{victim}");
    assert_eq!(victim["kill_kind"], "memory_failure", "{victim}");
    let batch = by_name("batch");
    assert_eq!(batch["killed"], true, "{batch}");
    assert_eq!(batch["kill_kind"], "epc_lost", "{batch}");
    assert_eq!(batch["restarts"], 0, "{batch}");
    let steady = by_name("steady");
    assert_eq!(steady["killed"], false, "{steady}");
    assert_eq!(steady["restarts"], 1, "{steady}");
    let short = by_name("short");
    assert!(short["stopped_at"].as_f64().unwrap() >= 1.2, "{short}");
    let after = by_name("after");
    assert!(after["started_at"].as_f64().unwrap() >= 2.0, "{after}");
    for e in [steady, short, after] {
        assert_eq!(e["killed"], false, "{e}");
        assert!(e["error"].is_null() && e["failed"].is_null(), "{e}");
        assert!(e["accesses"].as_u64().unwrap() > 0, "{e}");
    }
    // Integrity over the rest: the rebuilt enclave and the late one.
    let i = &v["integrity"];
    assert_eq!(i["ok"], true, "{i}");
    assert_eq!(i["corrupt"], 0, "{i}");
    assert_eq!(i["corrupt_reads"], 0, "{i}");
    assert_eq!(i["enclaves_killed"], 2, "{i}");
    assert_eq!(i["killed_by_memory_failure"], 1, "{i}");
    assert_eq!(i["lost_with_the_epc"], 1, "{i}");
    assert_eq!(i["pages_checked"], 500 + 300, "{i}");
    assert_eq!(i["pages_leaked"], 0, "{i}");
    // Two pages poisoned (the victim's and a free one), both retired.
    let nodes = v["nodes"].as_array().unwrap();
    let sum = |k: &str| nodes.iter().map(|n| n[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("poisoned_pages"), 2, "{v}");
    assert_eq!(sum("retired_pages"), 2, "{v}");
    // Every event applied, with what it came to.
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 6);
    for e in events {
        assert!(e["applied_at"].is_f64(), "{e}");
    }
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["kind"] == kind).collect()
    };
    assert_eq!(of("poison").len(), 2);
    assert!(
        of("poison")[1]["outcome"]
            .as_str()
            .unwrap()
            .ends_with("retired"),
        "{v}"
    );
    assert_eq!(
        of("suspend")[0]["outcome"],
        "2 running enclave(s) lost, 1 rebuilt",
        "{v}"
    );
}
