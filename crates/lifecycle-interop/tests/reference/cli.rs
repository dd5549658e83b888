//! `lifecycle inspect` on Choria's own files prints Choria's display line for each.

use std::path::PathBuf;
use std::process::Command;

/// The `lifecycle` binary of this build, beside the test's own directory
/// (`target/<profile>/deps/..`); `cargo xtask interop` builds it first.
fn lifecycle() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(format!("lifecycle{}", std::env::consts::EXE_SUFFIX)))
        .unwrap();
    assert!(
        bin.is_file(),
        "the lifecycle binary is missing at {}: build it with `cargo build -p lifecycle-cli` \
         (`cargo xtask interop` does)",
        bin.display()
    );
    bin
}

#[test]
fn inspect_prints_choria_display_lines() {
    let dir = lifecycle_testsupport::go_choria_dir();
    let table = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .filter(|r| !r.is_empty())
        .map(|r| r.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 16);
    let out = Command::new(lifecycle())
        .args(["inspect", "--no-filename"])
        .args(rows.iter().map(|r| dir.join(r[0])))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let want: Vec<&str> = rows.iter().map(|r| r[7]).collect();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want);
    assert_eq!(stderr, "");
}
