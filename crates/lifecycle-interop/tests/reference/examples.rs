//! The project's own example events, which the default test suite uses in place of Choria's,
//! are byte for byte what Choria's Go code writes for the same events: so what the default
//! suite proves on them holds for Choria's.

use lifecycle_core::{AnyEvent, parse};

use crate::minify;

/// `schemas/examples/<example>` and the reference file holding the same event.
const PAIRS: [(&str, &str); 9] = [
    ("lifecycle/v1/alive.json", "go_choria_alive.json"),
    ("lifecycle/v1/startup.json", "go_choria_startup.json"),
    ("lifecycle/v1/shutdown.json", "go_choria_shutdown.json"),
    (
        "lifecycle/v1/provisioned.json",
        "go_choria_provisioned.json",
    ),
    ("lifecycle/v1/upgraded.json", "go_choria_upgraded.json"),
    (
        "lifecycle/v1/governor.enter.json",
        "go_choria_governor_enter_seq10.json",
    ),
    (
        "lifecycle/v1/governor.exit.json",
        "go_choria_governor_exit_seq0.json",
    ),
    ("cloudevents/v1/lifecycle.json", "go_cloudevent_alive.json"),
    (
        "cloudevents/v1/lifecycle.governor.json",
        "go_cloudevent_governor_enter_seq10.json",
    ),
];

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn examples_are_the_bytes_choria_writes() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples");
    let reference = lifecycle_testsupport::go_choria_dir();
    for (example, choria) in PAIRS {
        let ours = minify(&read(examples.join(example)));
        let theirs = read(reference.join(choria));
        assert_eq!(ours, theirs.trim_end(), "{example} vs {choria}");
        // And what we write for that event is Choria's bytes in both formats.
        let parsed = parse(ours.as_bytes()).unwrap();
        let AnyEvent::Lifecycle(event) = parsed.event() else {
            panic!("{example}")
        };
        let stem = choria
            .trim_start_matches("go_choria_")
            .trim_start_matches("go_cloudevent_");
        assert_eq!(
            String::from_utf8(event.to_json()).unwrap(),
            read(reference.join(format!("go_choria_{stem}"))).trim_end(),
            "{example}: Choria JSON"
        );
        assert_eq!(
            String::from_utf8(event.cloudevent().to_json()).unwrap(),
            read(reference.join(format!("go_cloudevent_{stem}"))).trim_end(),
            "{example}: CloudEvents JSON"
        );
    }
}
