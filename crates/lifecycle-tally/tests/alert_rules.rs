//! The alert rules packaging/ ships for tallies check with promtool, and their unit tests
//! (no leader, none scraped, two leaders) pass.

use std::path::PathBuf;
use std::process::Command;

fn promtool(args: &[&str]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packaging/prometheus");
    let out = Command::new("promtool")
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed to check the alert rules ({e}): install Debian's \
                 `prometheus` package (.ci/run does)"
            )
        });
    assert!(
        out.status.success(),
        "promtool {args:?} in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_shipped_alert_rules_check_and_pass_their_tests() {
    promtool(&["check", "rules", "lifecycle-tally.rules.yml"]);
    promtool(&["test", "rules", "lifecycle-tally.rules.test.yml"]);
}
