//! `epc run` with virtual machines (issue 11): `examples/vms.toml` (host
//! and guest paging, integrity in both, the `vms` report and plot), VMs
//! that fail for lack of host EPC while the host's enclaves go on,
//! `reboot_vm` and `stop_vm`, and bad `[[vm]]` input.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

/// Runs the scenario `text` (written to `dir`) with `--json`.
fn run_text(dir: &Path, text: &str) -> Value {
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    json(epc().args([
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--json",
    ]))
}

/// Every key the contract promises a VM, and the guest's counters with
/// every key of the host's.
fn check_vm_keys(v: &Value) {
    for k in ["name", "epc_pages", "host_pages", "peak_host_pages"] {
        assert!(v.get(k).is_some(), "vms[].{k} missing: {v}");
    }
    assert!(v["failed"].is_null() || v["failed"].is_string(), "{v}");
    check_counters(&v["guest"]["counters"]);
    assert!(v["guest"]["enclaves"].is_array(), "{v}");
}

fn vm<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("VM {name} missing: {v}"))
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"))
}

/// The example, shortened to 3 s (the reboot at 2 s included): host and
/// guest paging at once, every page of every enclave read back right,
/// nothing left on the host at the end.
#[test]
fn vms_example_pages_in_host_and_guests_with_integrity_ok() {
    let dir = scratch("run_vms_example");
    let v = json(epc().args([
        "run",
        "--scenario",
        &example("vms.toml"),
        "--duration",
        "3",
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let i = &v["integrity"];
    assert_eq!(i["ok"], true, "{i}");
    assert_eq!(n(i, "corrupt") + n(i, "corrupt_reads"), 0, "{i}");
    assert_eq!(n(i, "pages_leaked"), 0, "{i}");
    assert!(i["manager_error"].is_null(), "{i}");
    // Host enclaves (1200 + 800 pages) and guest enclaves (700 + 500) all
    // read back.
    assert_eq!(n(i, "pages_checked"), 1200 + 800 + 700 + 500, "{i}");
    // The host pages around the VMs.
    assert!(n(&v["counters"], "evicted") > 0, "{}", v["counters"]);
    assert_eq!(v["vms"].as_array().unwrap().len(), 2);
    for name in ["big", "small"] {
        let m = vm(&v, name);
        check_vm_keys(m);
        assert!(m["failed"].is_null(), "{m}");
        assert_eq!(m["integrity"]["ok"], true, "{m}");
        // Each guest pages within its own vEPC, by its own manager.
        let g = &m["guest"]["counters"];
        assert!(n(g, "evicted") > 0 && n(g, "eldu") > 0, "{name}: {g}");
        assert!(n(m, "peak_host_pages") <= n(m, "epc_pages"), "{m}");
        for e in m["guest"]["enclaves"].as_array().unwrap() {
            assert_eq!(e["killed"], false, "{e}");
            assert!(e["failed"].is_null() && e["error"].is_null(), "{e}");
            assert!(n(e, "accesses") > 0, "{e}");
        }
    }
    // The preallocated VM holds its whole vEPC from the start.
    let big = vm(&v, "big");
    assert_eq!(n(big, "host_pages"), 512);
    assert_eq!(n(big, "peak_host_pages"), 512);
    // The reboot: every vEPC page removed, the guest's enclave built again.
    let small = vm(&v, "small");
    assert_eq!(n(small, "reboots"), 1, "{small}");
    assert_eq!(n(&small["guest"]["enclaves"][0], "restarts"), 1, "{small}");
    let reboot = &v["events"][0];
    assert_eq!(reboot["kind"], "reboot_vm");
    assert_eq!(reboot["vm"], "small");
    assert!(reboot["applied_at"].is_f64(), "{reboot}");
    assert!(
        reboot["outcome"]
            .as_str()
            .unwrap()
            .contains("pages removed"),
        "{reboot}"
    );
    // The host side: the reboot and the two final stops, nothing left.
    let h = &v["vm_host"];
    assert_eq!(n(h, "releases"), 3, "{h}");
    assert_eq!(n(h, "sigbus") + n(h, "zombies_left"), 0, "{h}");
    assert!(n(h, "eremove_second_pass") >= 1, "{h}");
    // The time series and the plot.
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains(",host_pages_big,host_pages_small"),
        "{header}"
    );
    assert!(header.contains(",resident_big/db"), "{header}");
    let png = std::fs::read(dir.join("vms.png")).expect("vms.png");
    assert_eq!(&png[1..4], b"PNG");
    assert!(dir.join("vms.svg").exists());
}

/// A preallocated VM larger than the host EPC fails at start holding
/// nothing; an on-demand one whose guest needs more host pages than the
/// host can give gets SIGBUS and fails, its pages given back; the host's
/// enclave runs its whole workload and reads back right.
#[test]
fn vms_without_enough_host_epc_fail_cleanly_and_the_host_goes_on() {
    let dir = scratch("run_vms_fail");
    let v = run_text(
        &dir,
        r#"
[epc]
pages = 700
[manager]
low_watermark = 8
high_watermark = 24
batch = 8
[[enclave]]
name = "host"
pages = 300
[enclave.workload]
kind = "uniform"
write_ratio = 0.3
accesses = 20000

[[vm]]
name = "huge"
epc_pages = 800
prealloc = true

[[vm]]
name = "greedy"
epc_pages = 1000
[vm.manager]
low_watermark = 8
high_watermark = 24
batch = 8
[[vm.enclave]]
name = "big"
pages = 900
[vm.enclave.workload]
kind = "uniform"
accesses = 20000
"#,
    );
    let huge = vm(&v, "huge");
    check_vm_keys(huge);
    assert!(
        huge["failed"].as_str().unwrap().contains("prealloc"),
        "{huge}"
    );
    assert_eq!(n(huge, "host_pages"), 0);
    let greedy = vm(&v, "greedy");
    check_vm_keys(greedy);
    assert!(
        greedy["failed"].as_str().unwrap().contains("SIGBUS"),
        "{greedy}"
    );
    assert_eq!(n(greedy, "host_pages"), 0, "given back: {greedy}");
    assert!(n(greedy, "peak_host_pages") > 0, "{greedy}");
    let host = &v["enclaves"][0];
    assert_eq!(n(host, "accesses"), 20000, "{host}");
    assert!(
        host["failed"].is_null() && host["error"].is_null(),
        "{host}"
    );
    assert_eq!(host["killed"], false, "{host}");
    let i = &v["integrity"];
    assert_eq!(i["ok"], true, "{i}");
    assert!(n(i, "pages_checked") >= 300, "{i}");
    assert_eq!(n(i, "pages_leaked"), 0, "{i}");
}

/// A VM started late, a reboot and a stop with the guest's threads
/// running: the host removes
/// every vEPC page each time (the enclave's SECS in a second pass, after
/// its children), the rebooted guest runs its enclave again from scratch,
/// the stopped VM holds nothing, the other VM is untouched, and every
/// host page is free at the end.
#[test]
fn reboot_vm_and_stop_vm_remove_every_page_and_the_guest_starts_again() {
    let dir = scratch("run_vms_reboot");
    let guest = |name: &str, seed: u32| {
        format!(
            "[[vm]]\nname = \"{name}\"\nepc_pages = 200\n[vm.manager]\nlow_watermark = 8\n\
             high_watermark = 24\nbatch = 8\n[[vm.enclave]]\nname = \"e\"\npages = 250\nthreads = 2\n\
             [vm.enclave.workload]\nkind = \"uniform\"\nwrite_ratio = 0.4\nseconds = 1.5\nseed = {seed}\n"
        )
    };
    let v = run_text(
        &dir,
        &format!(
            "[epc]\npages = 1024\n[[enclave]]\nname = \"host\"\npages = 200\n\
             [enclave.workload]\nkind = \"zipf\"\nwrite_ratio = 0.2\nseconds = 1.5\n\
             {}{}\
             [[event]]\nat = 0.4\nkind = \"reboot_vm\"\nvm = \"a\"\n\
             [[event]]\nat = 0.1\nkind = \"start_vm\"\nvm = \"b\"\n\
             [[event]]\nat = 0.8\nkind = \"stop_vm\"\nvm = \"b\"\n",
            guest("a", 1),
            guest("b", 2)
        ),
    );
    let i = &v["integrity"];
    assert_eq!(i["ok"], true, "{i}");
    assert_eq!(n(i, "pages_leaked"), 0, "{i}");
    let events = v["events"].as_array().unwrap();
    assert_eq!(events[0]["kind"], "start_vm");
    assert!(
        events[0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("started"),
        "{v}"
    );
    for e in &events[1..] {
        assert!(e["applied_at"].is_f64(), "{e}");
        let o = e["outcome"].as_str().unwrap();
        // 200 vEPC pages, all used by the guest; its enclave's SECS
        // (resident: its threads were running) refused the first pass
        // with SGX_CHILD_PRESENT and went in the second; nothing was
        // left inside an enclave, so nothing is a zombie.
        assert!(
            o.starts_with("200 pages removed (1 in the second pass; 1 SGX_CHILD_PRESENT, ")
                && o.contains(" 0 SGX_ENCLAVE_ACT), 0 to the zombie list"),
            "{o}"
        );
    }
    let a = vm(&v, "a");
    assert_eq!(n(a, "reboots"), 1);
    assert!(a["failed"].is_null(), "{a}");
    let ae = &a["guest"]["enclaves"][0];
    assert_eq!(n(ae, "restarts"), 1, "{ae}");
    assert_eq!(ae["killed"], false, "{ae}");
    assert_eq!(a["integrity"]["pages_checked"], 250, "{a}");
    let b = vm(&v, "b");
    assert!(b["started_at"].as_f64().unwrap() >= 0.1, "{b}");
    assert!(b["stopped_at"].as_f64().unwrap() >= 0.8, "{b}");
    assert_eq!(n(b, "host_pages"), 0, "{b}");
    let be = &b["guest"]["enclaves"][0];
    assert!(be["stopped_at"].is_f64(), "{be}");
    assert_eq!(be["killed"], false, "a stop is not a kill: {be}");
    assert!(be["error"].is_null() && be["failed"].is_null(), "{be}");
    assert_eq!(b["integrity"]["pages_checked"], 0, "{b}");
    assert_eq!(n(i, "pages_checked"), 200 + 250, "{i}");
}

/// A memory failure in a host page a VM holds (`poison` with `vm`) goes
/// through the host's `memory_failure_vm`: that VM fails and is torn
/// down, its enclave lost, the page retired; the other VM and the host's
/// enclave go on and read back right.
#[test]
fn poison_in_a_vms_host_page_fails_that_vm_only() {
    let dir = scratch("run_vms_poison");
    let guest = |name: &str| {
        format!(
            "[[vm]]\nname = \"{name}\"\nepc_pages = 160\nprealloc = true\n\
             [[vm.enclave]]\nname = \"e\"\npages = 60\n\
             [vm.enclave.workload]\nkind = \"uniform\"\nwrite_ratio = 0.3\nseconds = 1\n"
        )
    };
    let v = run_text(
        &dir,
        &format!(
            "[epc]\npages = 1024\n[[enclave]]\nname = \"host\"\npages = 100\n\
             [enclave.workload]\nkind = \"uniform\"\nseconds = 1\n{}{}\
             [[event]]\nat = 0.3\nkind = \"poison\"\nvm = \"a\"\n",
            guest("a"),
            guest("b")
        ),
    );
    let e = &v["events"][0];
    assert!(
        e["outcome"].as_str().unwrap().ends_with("VM \"a\" failed"),
        "{e}"
    );
    let a = vm(&v, "a");
    assert!(
        a["failed"].as_str().unwrap().contains("memory failure"),
        "{a}"
    );
    assert_eq!(n(a, "host_pages"), 0, "{a}");
    assert_eq!(a["guest"]["enclaves"][0]["kill_kind"], "epc_lost", "{a}");
    let b = vm(&v, "b");
    assert!(b["failed"].is_null(), "{b}");
    assert_eq!(b["integrity"]["pages_checked"], 60, "{b}");
    let i = &v["integrity"];
    assert_eq!(i["ok"], true, "{i}");
    assert_eq!(n(i, "pages_checked"), 100 + 60, "{i}");
    assert_eq!(n(i, "lost_with_the_epc"), 1, "{i}");
    assert_eq!(n(i, "pages_leaked"), 0, "{i}");
    assert_eq!(n(&v["nodes"][0], "retired_pages"), 1, "{v}");
}

/// A `suspend` loses the host's EPC: the running VM fails with it (its
/// enclave lost, not rebuilt even with `restart = true`, its pages given
/// back), the host's enclave is rebuilt, and a VM started afterwards runs
/// and reads back right.
#[test]
fn suspend_fails_running_vms_and_a_vm_started_after_it_runs() {
    let dir = scratch("run_vms_suspend");
    let v = run_text(
        &dir,
        r#"
[epc]
pages = 1024
[[enclave]]
name = "host"
pages = 200
restart = true
[enclave.workload]
kind = "uniform"
seconds = 1.2
[[vm]]
name = "a"
epc_pages = 200
[[vm.enclave]]
name = "e"
pages = 250
restart = true
[vm.enclave.workload]
kind = "uniform"
write_ratio = 0.3
seconds = 1.2
[[vm]]
name = "late"
epc_pages = 100
[[vm.enclave]]
name = "e"
pages = 20
[vm.enclave.workload]
kind = "uniform"
seconds = 0.5
[[event]]
at = 0.4
kind = "suspend"
[[event]]
at = 0.6
kind = "start_vm"
vm = "late"
"#,
    );
    let a = vm(&v, "a");
    assert!(
        a["failed"].as_str().unwrap().contains("host EPC lost"),
        "{a}"
    );
    assert_eq!(n(a, "host_pages"), 0, "{a}");
    let ae = &a["guest"]["enclaves"][0];
    assert_eq!(ae["kill_kind"], "epc_lost", "{ae}");
    assert_eq!(n(ae, "restarts"), 0, "{ae}");
    let late = vm(&v, "late");
    assert!(late["failed"].is_null(), "{late}");
    assert_eq!(late["integrity"]["pages_checked"], 20, "{late}");
    assert_eq!(n(&v["enclaves"][0], "restarts"), 1);
    assert!(
        v["events"][0]["outcome"]
            .as_str()
            .unwrap()
            .ends_with("1 running VM(s) failed"),
        "{v}"
    );
    let i = &v["integrity"];
    assert_eq!(i["ok"], true, "{i}");
    assert_eq!(n(i, "pages_checked"), 200 + 20, "{i}");
    assert_eq!(n(i, "pages_leaked"), 0, "{i}");
}

/// Bad `[[vm]]` input and VM events: one line naming the field, exit 2.
#[test]
fn bad_vm_input_names_the_field() {
    let dir = scratch("run_vms_bad");
    let base = "[epc]\npages = 512\n[[cgroup]]\npath = \"/vms\"\n\
                [[vm]]\nname = \"a\"\nepc_pages = 256\n[[vm.enclave]]\npages = 100\n\
                [vm.enclave.workload]\nkind = \"uniform\"\naccesses = 10\n";
    let cases: [(String, &str); 7] = [
        (
            base.replace("epc_pages = 256", "epc_pages = 256\ncgroup = \"/x\""),
            "vm[0].cgroup: no [[cgroup]] has the path \"/x\"",
        ),
        (
            format!("{base}[[vm]]\nname = \"a\"\nepc_pages = 8\n"),
            "vm[1].name: \"a\" is also vm[0]'s name",
        ),
        (
            base.replace("epc_pages = 256", "epc_pages = 50"),
            "vm[0].epc_pages: vEPC too small for its enclaves: 50 pages",
        ),
        (
            base.replace(
                "epc_pages = 256",
                "epc_pages = 256\n[vm.manager]\nbatch = 0",
            ),
            "vm[0].manager.batch: must be at least 1",
        ),
        (
            base.replace("pages = 100", "pages = 100\nthreads = 0"),
            "vm[0].enclave[0].threads",
        ),
        (
            format!("{base}[[event]]\nat = 1\nkind = \"reboot_vm\"\nvm = \"b\"\n"),
            "event[0].vm: no VM is named \"b\"",
        ),
        (
            base.replace("epc_pages = 256", "epc_pages = 256\nmemory = 3"),
            "memory",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        bad_input(
            epc().args(["run", "--scenario", file.to_str().unwrap()]),
            needle,
        );
    }
}
