//! Shared by the integration tests of lifecycle-core.

#![allow(dead_code, unreachable_pub)]

use std::fmt;

use lifecycle_core::{Error, Parsed, parse, parse_with_serde_json};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// `parse(bytes)`, held to the reference, `parse_with_serde_json(bytes)`: the same event in
/// the same format written back as the same bytes, or the same error.
pub fn parse_checked(bytes: &[u8]) -> Result<Parsed, Error> {
    let ours = parse(bytes);
    let reference = parse_with_serde_json(bytes);
    let show = || String::from_utf8_lossy(bytes).into_owned();
    match (&ours, &reference) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.event(), b.event(), "event of {:?}", show());
            assert_eq!(a.format(), b.format(), "format of {:?}", show());
            assert_eq!(a.to_json(), b.to_json(), "written back: {:?}", show());
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.kind(), b.kind(), "error of {:?}", show());
            assert_eq!(a.to_string(), b.to_string(), "error of {:?}", show());
        }
        _ => panic!(
            "{:?}: ours {:?}, serde_json's {:?}",
            show(),
            ours.as_ref().map(Parsed::event),
            reference.as_ref().map(Parsed::event)
        ),
    }
    ours
}

/// The members of a JSON object in their order, values raw: for building inputs that a
/// `serde_json::Value` (which sorts keys) could not.
pub struct Members(pub Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl Members {
    /// The members of a JSON object.
    pub fn parse(object: impl AsRef<[u8]>) -> Members {
        serde_json::from_slice(object.as_ref()).unwrap()
    }

    /// The object again, compact, members in their order.
    pub fn render(&self) -> String {
        let members: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v.get()))
            .collect();
        format!("{{{}}}", members.join(","))
    }
}

/// The project's own example events (`schemas/examples`, valid ones), each as written there
/// (pretty) and compacted in the same key order, so that both the fast path and the general
/// reader are exercised. Sorted by name; `.compact` marks the compacted copies.
pub fn example_events() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples");
    let mut files = Vec::new();
    for dir in ["lifecycle", "cloudevents", "machine"] {
        collect_json(&root.join(dir), &mut files);
    }
    files.sort();
    let mut events = Vec::new();
    for path in files {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        events.push((format!("{name}.compact"), compact(&bytes)));
        events.push((name, bytes));
    }
    assert!(
        events.len() >= 32,
        "schemas/examples holds at least 16 valid events"
    );
    events
}

fn collect_json(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// JSON text without the white space outside strings: same values, same key order.
pub fn compact(json: &[u8]) -> Vec<u8> {
    let (mut out, mut in_string, mut escaped) = (Vec::new(), false, false);
    for &b in json {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// Every member name an event format defines.
pub const MEMBERS: &[&str] = lifecycle_core::MEMBER_NAMES;
