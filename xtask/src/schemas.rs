//! `cargo xtask schemas`: the project's JSON Schemas, their examples, the events
//! `lifecycle-core` builds and parses, and Choria's published schemas all agree.
//!
//! Layout: `schemas/<path>.json` is one of our schemas (draft 2020-12).
//! `schemas/examples/<path>.<variant>.json` is a valid example of it (the variant is
//! optional) and `schemas/examples/invalid/<path>.<variant>.json` one it must reject.
//! Choria's published schema for the same event, when there is one, is
//! `$LIFECYCLE_REFERENCE/choria-schemas/choria/<path>` (draft-04; default
//! `../shared/reference`). Those comparisons belong to the interoperability suite: the unit
//! test here runs every other check, so a plain `cargo test` needs nothing outside the
//! repository.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use jsonschema::Validator;
use lifecycle_core::{
    Event, EventType, ExecState, GovernorEventType, MachineEvent, Transition, WatcherState,
};
use serde_json::Value;

/// Our schemas that Choria publishes no counterpart for; every other one must have one, so
/// a missing reference file fails instead of silently skipping the comparison.
const WITHOUT_CHORIA_SCHEMA: [&str; 2] = [
    "cloudevents/v1/lifecycle.json",
    "lifecycle/v1/governor.json",
];

/// The schema of a lifecycle event in CloudEvents structured JSON; its `data` is checked
/// against the schema of the event type it holds.
const CLOUDEVENTS_SCHEMA: &str = "cloudevents/v1/lifecycle.json";

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Runs every check, with Choria's schemas when `choria` says so (then a missing reference
/// directory is an error).
pub(crate) fn run(choria: Choria) -> Result<()> {
    let report = check(&Layout::locate(choria)?)?;
    println!(
        "schemas: {} checks passed, {} failed",
        report.passed,
        report.failures.len()
    );
    if !report.failures.is_empty() {
        bail!("schema checks failed:\n{}", report.failures.join("\n"));
    }
    Ok(())
}

/// Runs every check. A file that cannot be read or a schema that does not compile is an
/// error; a check that does not hold is a failure in the report.
fn check(layout: &Layout) -> Result<Report> {
    let mut report = Report::default();
    let schemas = Schemas::load(layout, &mut report)?;
    check_examples(layout, &schemas, &mut report)?;
    check_built_events(&schemas, &mut report)?;
    Ok(report)
}

/// Whether the checks compare with Choria's published schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choria {
    /// Compare with Choria's schemas too (the interoperability suite).
    Required,
    /// Only the project's own schemas, examples and events.
    Skipped,
}

/// Where the files are.
struct Layout {
    root: PathBuf,
    schemas: PathBuf,
    examples: PathBuf,
    /// Choria's published schemas, unless skipped.
    choria: Option<PathBuf>,
}

impl Layout {
    fn locate(choria: Choria) -> Result<Layout> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask's manifest directory has no parent")?
            .to_path_buf();
        let choria = match choria {
            Choria::Skipped => None,
            Choria::Required => {
                let dir = crate::reference::reference_dir(&root)?.join("choria-schemas/choria");
                if !dir.is_dir() {
                    bail!(
                        "Choria's published schemas are missing: expected the directory {}; \
                         the check cannot run without them",
                        dir.display()
                    );
                }
                Some(dir)
            }
        };
        Ok(Layout {
            schemas: root.join("schemas"),
            examples: root.join("schemas/examples"),
            choria,
            root,
        })
    }

    /// `path` relative to the project root, for messages.
    fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// The outcome of the checks: each printed as it is made, failures kept for the summary.
#[derive(Default)]
struct Report {
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    fn record(&mut self, check: &str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                println!("ok   {check}");
                self.passed += 1;
            }
            Err(error) => {
                println!("FAIL {check}: {error}");
                self.failures.push(format!("{check}: {error}"));
            }
        }
    }
}

/// One of our schemas, with Choria's counterpart when Choria publishes one.
struct Schema {
    ours: Validator,
    choria: Option<Validator>,
}

/// Our schemas by their path under `schemas/`, e.g. `lifecycle/v1/alive.json`.
struct Schemas(BTreeMap<String, Schema>);

impl Schemas {
    fn load(layout: &Layout, report: &mut Report) -> Result<Schemas> {
        let mut schemas = BTreeMap::new();
        for path in json_files(&layout.schemas)? {
            if path.starts_with(&layout.examples) {
                continue;
            }
            let key = key_of(&layout.schemas, &path);
            let (_, schema) = read_json(&path)?;
            let mut problems = Vec::new();
            if schema["$schema"] != DRAFT_2020_12 {
                problems.push(format!("$schema must be {DRAFT_2020_12}"));
            }
            if !schema["$id"]
                .as_str()
                .is_some_and(|id| id.ends_with(&format!("/schemas/{key}")))
            {
                problems.push(format!("$id must end with /schemas/{key}"));
            }
            // Formats are annotations by default in 2020-12; `time` must be RFC 3339.
            let ours = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .with_context(|| format!("{} is not a valid schema", layout.show(&path)))?;
            let choria = choria_counterpart(layout, &key, &mut problems)?;
            report.record(&format!("schema schemas/{key}"), joined(problems));
            schemas.insert(key, Schema { ours, choria });
        }
        if schemas.is_empty() {
            bail!("no schemas found in {}", layout.schemas.display());
        }
        if let Some(choria) = &layout.choria {
            let unmatched = json_files(choria)?
                .iter()
                .map(|path| key_of(choria, path))
                .filter(|key| !schemas.contains_key(key))
                .map(|key| format!("schemas/{key} is missing"))
                .collect();
            report.record(
                "every schema Choria publishes has a counterpart in schemas/",
                joined(unmatched),
            );
        }
        Ok(Schemas(schemas))
    }

    /// Checks `instance` against our schema `key` and Choria's counterpart.
    fn check(&self, report: &mut Report, what: &str, key: &str, instance: &Value) {
        let Some(schema) = self.0.get(key) else {
            report.record(what, Err(format!("no schema schemas/{key}")));
            return;
        };
        report.record(
            &format!("{what} is valid against schemas/{key}"),
            validate(&schema.ours, instance),
        );
        if let Some(choria) = &schema.choria {
            report.record(
                &format!("{what} is valid against Choria's {key}"),
                validate(choria, instance),
            );
        }
    }

    /// Checks a lifecycle CloudEvent: the envelope, then `data` as the event it holds.
    fn check_cloudevent(&self, report: &mut Report, what: &str, instance: &Value) {
        self.check(report, what, CLOUDEVENTS_SCHEMA, instance);
        let data = format!("data of {what}");
        match instance
            .pointer("/data/protocol")
            .and_then(Value::as_str)
            .and_then(EventType::from_protocol)
        {
            Some(event_type) => self.check(
                report,
                &data,
                &format!("lifecycle/v1/{event_type}.json"),
                &instance["data"],
            ),
            None => report.record(
                &data,
                Err("data.protocol names no lifecycle event type".to_owned()),
            ),
        }
    }
}

/// Choria's schema for `key`, compiled as draft-04 as Choria wrote it. Whether Choria
/// publishes one must agree with [`WITHOUT_CHORIA_SCHEMA`].
fn choria_counterpart(
    layout: &Layout,
    key: &str,
    problems: &mut Vec<String>,
) -> Result<Option<Validator>> {
    let Some(choria) = &layout.choria else {
        return Ok(None);
    };
    let path = choria.join(key);
    let expected = !WITHOUT_CHORIA_SCHEMA.contains(&key);
    match (path.is_file(), expected) {
        (true, true) => {
            let (_, schema) = read_json(&path)?;
            // Choria's `$schema` lacks the trailing '#', so name the draft rather than rely
            // on detection.
            let validator = jsonschema::draft4::new(&schema)
                .with_context(|| format!("{} is not a valid schema", layout.show(&path)))?;
            Ok(Some(validator))
        }
        (true, false) => {
            problems.push(format!(
                "Choria now publishes {}: remove {key} from WITHOUT_CHORIA_SCHEMA",
                layout.show(&path)
            ));
            Ok(None)
        }
        (false, true) => {
            problems.push(format!(
                "Choria's counterpart {} is missing",
                layout.show(&path)
            ));
            Ok(None)
        }
        (false, false) => Ok(None),
    }
}

/// Checks every example: valid ones against their schema (and Choria's) and through
/// `lifecycle_core::parse`, invalid ones for rejection; and that every schema has a valid one.
fn check_examples(layout: &Layout, schemas: &Schemas, report: &mut Report) -> Result<()> {
    let invalid = layout.examples.join("invalid");
    let mut valid_examples: BTreeMap<&str, usize> =
        schemas.0.keys().map(|key| (key.as_str(), 0)).collect();
    for path in json_files(&layout.examples)? {
        let shown = layout.show(&path);
        let (bytes, example) = read_json(&path)?;
        if path.starts_with(&invalid) {
            let key = target_schema(&key_of(&invalid, &path));
            check_rejected(report, schemas, &shown, &key, &example);
            continue;
        }
        let key = target_schema(&key_of(&layout.examples, &path));
        if let Some(count) = valid_examples.get_mut(key.as_str()) {
            *count += 1;
        }
        if key == CLOUDEVENTS_SCHEMA {
            schemas.check_cloudevent(report, &shown, &example);
        } else {
            schemas.check(report, &shown, &key, &example);
        }
        report.record(
            &format!("{shown} parses and writes back the same JSON"),
            round_trip(&bytes, &example),
        );
    }
    for (key, count) in valid_examples {
        let outcome = match count {
            0 => Err(format!("add one to {}", layout.show(&layout.examples))),
            _ => Ok(()),
        };
        report.record(&format!("schemas/{key} has a valid example"), outcome);
    }
    Ok(())
}

/// Checks that our schema `key` rejects an invalid example, saying why it does.
fn check_rejected(report: &mut Report, schemas: &Schemas, shown: &str, key: &str, example: &Value) {
    let Some(schema) = schemas.0.get(key) else {
        report.record(shown, Err(format!("no schema schemas/{key}")));
        return;
    };
    match validate(&schema.ours, example) {
        Err(reasons) => report.record(
            &format!("{shown} is rejected by schemas/{key} ({reasons})"),
            Ok(()),
        ),
        Ok(()) => report.record(
            &format!("{shown} is rejected by schemas/{key}"),
            Err("it is accepted".to_owned()),
        ),
    }
}

/// Parses an example with `lifecycle_core::parse` and writes it back: the same JSON value
/// must come out, except that a legacy protocol comes back in the current spelling.
fn round_trip(bytes: &[u8], example: &Value) -> Result<(), String> {
    let parsed = lifecycle_core::parse(bytes).map_err(|e| format!("parse failed: {e}"))?;
    let written: Value = serde_json::from_slice(&parsed.to_json())
        .map_err(|e| format!("wrote invalid JSON: {e}"))?;
    let mut expected = example.clone();
    normalise_protocol(&mut expected);
    if let Some(data) = expected.get_mut("data") {
        normalise_protocol(data);
    }
    if written == expected {
        Ok(())
    } else {
        Err(format!("wrote {written}, expected {expected}"))
    }
}

/// Rewrites a lifecycle `protocol` in the legacy spelling to the current one, as parsing does.
fn normalise_protocol(event: &mut Value) {
    let current = event
        .get("protocol")
        .and_then(Value::as_str)
        .and_then(EventType::from_protocol)
        .map(EventType::protocol);
    if let Some(current) = current {
        event["protocol"] = current.into();
    }
}

/// Checks the events lifecycle-core builds: each lifecycle type (governor once per stage)
/// in Choria's JSON and as a CloudEvent, and both kinds of machine event.
fn check_built_events(schemas: &Schemas, report: &mut Report) -> Result<()> {
    for (name, event) in built_lifecycle_events()? {
        let what = format!("built {name} event");
        let key = format!("lifecycle/v1/{}.json", event.event_type());
        schemas.check(report, &what, &key, &json_value(&event.to_json())?);
        let cloudevent = json_value(&event.cloudevent().to_json())?;
        schemas.check_cloudevent(report, &format!("{what} as a CloudEvent"), &cloudevent);
    }
    for (key, event) in built_machine_events() {
        let what = format!("built {} event", event.protocol());
        schemas.check(report, &what, key, &json_value(&event.to_json())?);
    }
    Ok(())
}

/// One event of every lifecycle type from the builder, with a fresh id and the current
/// time as new events get them; governor once per stage.
fn built_lifecycle_events() -> Result<Vec<(String, Event)>> {
    let mut events = Vec::new();
    for event_type in EventType::ALL {
        let start = || {
            Event::builder(event_type)
                .identity("node1.example.net")
                .component("server")
        };
        // A match, not a table, so that a new event type fails to compile here.
        let built = match event_type {
            EventType::Startup | EventType::Alive => start().version("0.29.4").build(),
            EventType::Shutdown | EventType::Provisioned => start().build(),
            EventType::Upgraded => start().version("0.28.0").new_version("0.29.4").build(),
            EventType::Governor => {
                let stages = [
                    (GovernorEventType::Enter, 10),
                    (GovernorEventType::Exit, 0),
                    (GovernorEventType::Timeouts, 0),
                    (GovernorEventType::Eviction, 3),
                ];
                for (stage, sequence) in stages {
                    let name = format!("governor ({stage})");
                    let event = start()
                        .governor("PUPPET")
                        .sequence(sequence)
                        .governor_event(stage)
                        .build()
                        .with_context(|| format!("building a {name} event"))?;
                    events.push((name, event));
                }
                continue;
            }
        };
        let event = built.with_context(|| format!("building a {event_type} event"))?;
        events.push((event_type.to_string(), event));
    }
    Ok(events)
}

/// A transition and an exec watcher state, each with the schema it must match.
fn built_machine_events() -> [(&'static str, MachineEvent); 2] {
    let (identity, instance, version, timestamp) = (
        "node1.example.net",
        "6b0b2a6e-1f0e-4c1a-9d2e-000000000030",
        "1.0.0",
        1_700_000_000,
    );
    let transition = Transition::new(
        identity, instance, version, timestamp, "backup", "start", "idle", "running",
    );
    let exec = ExecState {
        command: "/usr/local/bin/backup.sh".to_owned(),
        previous_outcome: "success".to_owned(),
        previous_run_time: 1_500_000_000,
    };
    let state = WatcherState::exec(
        identity,
        instance,
        version,
        timestamp,
        "backup",
        "run_backup",
        exec,
    );
    [
        (
            "machine/v1/transition.json",
            MachineEvent::Transition(transition),
        ),
        (
            "machine/watcher/exec/v1/state.json",
            MachineEvent::WatcherState(state),
        ),
    ]
}

/// All of `validator`'s objections to `instance`, in one line.
fn validate(validator: &Validator, instance: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| match error.instance_path.to_string() {
            at if at.is_empty() => one_line(&error.to_string()),
            at => one_line(&format!("{error} at {at}")),
        })
        .collect();
    joined(errors)
}

/// `text` with line breaks and other white space but ' ' escaped, so that a message quoting
/// a value or an expanded `\s` pattern keeps the report at one line per check.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => c.to_string(),
            c if c.is_control() || c.is_whitespace() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn joined(problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The schema an example targets: its path with the variant after the first `.` of the
/// file name dropped, so `lifecycle/v1/alive.legacy-protocol.json` targets
/// `lifecycle/v1/alive.json`.
fn target_schema(example: &str) -> String {
    let (dir, file) = example.rsplit_once('/').unwrap_or(("", example));
    let stem = file.split('.').next().unwrap_or(file);
    match dir {
        "" => format!("{stem}.json"),
        dir => format!("{dir}/{stem}.json"),
    }
}

/// `path` below `base` with `/` separators, as schemas and examples are named.
fn key_of(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    let parts: Vec<_> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

/// The `.json` files below `dir`, sorted so that the output is stable.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A file's bytes and its JSON value.
fn read_json(path: &Path) -> Result<(Vec<u8>, Value)> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    Ok((bytes, value))
}

fn json_value(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).context("lifecycle-core wrote invalid JSON")
}

#[cfg(test)]
mod tests {
    use super::{Choria, Layout, check, target_schema};

    /// The same check as `cargo xtask schemas` but for Choria's schemas (the
    /// interoperability suite's part), so that `cargo test` catches drift between the
    /// schemas, their examples and lifecycle-core in any clone.
    #[test]
    fn schemas_examples_and_events_agree() {
        let report = check(&Layout::locate(Choria::Skipped).unwrap()).unwrap();
        assert!(
            report.failures.is_empty(),
            "{} schema checks failed:\n{}",
            report.failures.len(),
            report.failures.join("\n")
        );
    }

    #[test]
    fn examples_name_their_schema() {
        let cases = [
            ("lifecycle/v1/alive.json", "lifecycle/v1/alive.json"),
            (
                "lifecycle/v1/alive.legacy-protocol.json",
                "lifecycle/v1/alive.json",
            ),
            (
                "cloudevents/v1/lifecycle.no-subject.json",
                "cloudevents/v1/lifecycle.json",
            ),
            ("top.variant.json", "top.json"),
        ];
        for (example, schema) in cases {
            assert_eq!(target_schema(example), schema, "{example}");
        }
    }
}
