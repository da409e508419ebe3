//! The README's main command prints what it claims: the quickstart, run as a newcomer runs it.

use std::path::PathBuf;
use std::process::Command;

/// The example binary cargo built beside this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    deps.parent().unwrap().join("examples").join(name)
}

#[test]
fn the_quickstart_counts_every_one_way_ping() {
    for run in 0..5 {
        let out = Command::new(example("quickstart")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "run {run}: {text}");
        assert!(
            text.contains("sent 3 one-way pings; the service counted 3"),
            "run {run}: {text}"
        );
    }
}
