//! Every command has `--help` with examples.

mod common;

use common::epc;

#[test]
fn every_command_has_help_with_examples() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["replay", "--help"],
        vec!["trace", "--help"],
        vec!["trace", "stats", "--help"],
        vec!["trace", "convert", "--help"],
        vec!["trace", "record", "--help"],
    ] {
        let out = epc().args(&args).output().expect("runs");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:"), "{args:?}: {text}");
        assert!(
            text.contains("--json") || args.len() < 3 && args[0] != "run" && args[0] != "replay",
            "{args:?}: {text}"
        );
    }
}
