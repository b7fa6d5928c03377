//! Helpers shared by the command-line tests: the binary, JSON output, a
//! scratch folder per test.

#![allow(dead_code, unreachable_pub)]

use assert_cmd::Command;
use std::path::PathBuf;

/// The `epc` binary.
pub fn epc() -> Command {
    let mut c = Command::cargo_bin("epc").expect("the epc binary is built");
    c.env_remove("RUST_BACKTRACE");
    c
}

/// A fresh scratch folder for `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Runs `cmd`, expects success, parses standard output as one JSON object.
pub fn json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "status {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `cmd` and expects exit status 2 with one line on standard error,
/// containing `needle`, and no panic.
pub fn bad_input(cmd: &mut Command, needle: &str) {
    let out = cmd.output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A shared trace, if the shared folder is there.
pub fn shared_trace(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/traces")
        .join(format!("{name}.trace.xz"));
    p.exists().then_some(p)
}

/// The counters every report has.
pub const COUNTER_KEYS: [&str; 20] = [
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
    "alloc_failures",
    "eaug",
    "eaccept",
    "emodpr",
    "emodt",
    "eremove_trim",
    "access_errors",
];

/// Checks `v` is an object of integers with every required key.
pub fn check_counters(v: &serde_json::Value) {
    let o = v.as_object().expect("counters is an object");
    for k in COUNTER_KEYS {
        assert!(
            o.get(k).is_some_and(|x| x.is_u64()),
            "counters.{k} missing: {v}"
        );
    }
    assert!(o.values().all(|x| x.is_u64()), "flat integers: {v}");
}

/// Writes `toml` to `dir/s.toml`, runs `epc run` on it with the report in
/// `dir/r`, and returns its JSON (the run must succeed).
pub fn run_scenario(dir: &std::path::Path, toml: &str) -> serde_json::Value {
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, toml).unwrap();
    json(epc().args([
        "run",
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        dir.join("r").to_str().unwrap(),
        "--json",
    ]))
}
