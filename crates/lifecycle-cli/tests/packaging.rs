//! The systemd units in `packaging/systemd` are ones systemd accepts, run the real binary,
//! and keep their hardening.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const INSTALL_HINT: &str = "systemd-analyze was not found: the packaging tests check the \
    systemd units with it; install Debian's `systemd` package (.ci/run does this)";

fn units() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd")
}

/// The unit `name` written into `dir` as `as_name`, running this build's binary.
fn install(dir: &Path, name: &str, as_name: &str) -> PathBuf {
    let text = std::fs::read_to_string(units().join(name)).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/lifecycle "), "{name}");
    let text = text.replace("/usr/bin/lifecycle", env!("CARGO_BIN_EXE_lifecycle"));
    let path = dir.join(as_name);
    std::fs::write(&path, text).unwrap();
    path
}

fn analyze(args: &[&str], unit: &Path) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({e})"))
}

/// `verify` accepts it without a single warning, and `security` rates its exposure low.
fn check(unit: &Path) {
    let verify = analyze(&["verify", "--man=no"], unit);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{}: {stderr}", unit.display());
    assert_eq!(stderr.trim(), "", "{}", unit.display());

    let security = analyze(&["security", "--offline=yes"], unit);
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|line| line.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|level| level.split_whitespace().next())
        .and_then(|level| level.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}"));
    assert!(
        exposure <= 2.0,
        "{}: exposure {exposure}\n{report}",
        unit.display()
    );
    for hardening in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        let text = std::fs::read_to_string(unit).unwrap();
        assert!(text.contains(hardening), "{}: {hardening}", unit.display());
    }
}

#[test]
fn the_tally_unit_is_valid_and_hardened() {
    let dir = tempfile::tempdir().unwrap();
    check(&install(
        dir.path(),
        "lifecycle-tally.service",
        "lifecycle-tally.service",
    ));
}

#[test]
fn the_forward_unit_is_valid_and_hardened() {
    let dir = tempfile::tempdir().unwrap();
    // A template is verified through one of its instances.
    install(
        dir.path(),
        "lifecycle-forward@.service",
        "lifecycle-forward@.service",
    );
    check(&install(
        dir.path(),
        "lifecycle-forward@.service",
        "lifecycle-forward@knative.service",
    ));
}

#[test]
fn the_react_unit_is_valid_and_hardened() {
    let dir = tempfile::tempdir().unwrap();
    check(&install(
        dir.path(),
        "lifecycle-react.service",
        "lifecycle-react.service",
    ));
}

#[test]
fn every_unit_is_tested() {
    let mut names: Vec<String> = std::fs::read_dir(units())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "lifecycle-forward@.service",
            "lifecycle-react.service",
            "lifecycle-tally.service"
        ]
    );
}

#[test]
fn no_unit_puts_a_secret_on_the_command_line() {
    for name in [
        "lifecycle-forward@.service",
        "lifecycle-react.service",
        "lifecycle-tally.service",
    ] {
        let text = std::fs::read_to_string(units().join(name)).unwrap();
        // Neither in ExecStart= nor in the example arguments the comments give.
        for flag in ["--to ", "--token ", "--server ", "@"] {
            let uses: Vec<&str> = text
                .lines()
                .filter(|line| line.contains("ARGS=") || line.starts_with("ExecStart="))
                .filter(|line| line.contains(flag))
                .collect();
            assert!(uses.is_empty(), "{name}: {uses:?}");
        }
    }
    // The receiver's URL, which may hold a token, comes as the credential lifecycle reads.
    let forward = std::fs::read_to_string(units().join("lifecycle-forward@.service")).unwrap();
    assert!(
        forward.contains("\nLoadCredential=forward-to:/etc/lifecycle/forward-%i.url\n"),
        "{forward}"
    );
}
