//! `epc run` on two NUMA nodes: `report.json` carries `nodes`, one entry
//! per node with EPC, whose counts add up and whose allocations show both
//! nodes serving their own enclaves.

mod common;

use common::*;
use std::path::PathBuf;

#[test]
fn two_nodes_report_has_a_per_node_view_that_adds_up() {
    let dir = scratch("run_two_nodes");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/two-nodes.toml");
    let v = json(epc().args([
        "run",
        "--scenario",
        scenario.to_str().unwrap(),
        "--duration",
        "1",
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let nodes = v["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2, "{v}");
    let mut total = 0;
    for (i, n) in nodes.iter().enumerate() {
        let get = |k: &str| {
            n[k].as_u64()
                .unwrap_or_else(|| panic!("nodes[{i}].{k}: {n}"))
        };
        assert_eq!(get("node"), i as u64);
        assert_eq!(get("total_pages"), 2048);
        assert_eq!(get("sgx_total_bytes"), 2048 * 4096);
        assert_eq!(
            get("total_pages"),
            get("free_pages") + get("in_use_pages") + get("retired_pages"),
            "{n}"
        );
        assert_eq!(get("poisoned_pages"), 0);
        assert!(get("allocations") > 0, "node {i} served its enclave: {n}");
        total += get("total_pages");
    }
    assert_eq!(total, v["epc_pages"].as_u64().unwrap());
}
