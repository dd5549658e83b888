//! `parse` never panics, whatever the bytes, and whatever it accepts it writes back so that
//! parsing again gives the same event in the same format. Every input also goes to the
//! reference reader (serde_json), which must give the same result.
//!
//! Random inputs come from proptest with a bounded number of cases (the whole file runs in
//! a few seconds in debug mode); the mutations that can be enumerated (truncation at every
//! point, invalid UTF-8 at every byte, each member duplicated) are tried exhaustively on
//! every example event of the project (`schemas/examples`), pretty and compacted. The filter
//! language is driven the same way: parsing any expression and evaluating any filter on
//! events with hostile unknown members (numbers beyond f64, lone surrogates, deep nesting)
//! never panics.

mod common;

use common::{MEMBERS, Members};
use std::path::PathBuf;
use std::sync::OnceLock;

use lifecycle_core::{AnyEvent, ErrorKind, Filter, Format, MAX_EVENT_BYTES, parse};
use proptest::prelude::*;
use serde_json::value::RawValue;

/// The project's example events (`schemas/examples`), pretty and compacted.
fn references() -> &'static [(String, Vec<u8>)] {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(common::example_events)
}

/// Parses `bytes`, as serde_json would (`common::parse_checked`); an accepted event must
/// display, address, write back and parse again to the same event in the same format, and
/// write back identically the second time.
fn check(bytes: &[u8]) {
    let parsed = match common::parse_checked(bytes) {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = (err.to_string(), format!("{err:?}"), err.kind().clone());
            let _ = std::error::Error::source(&err).map(ToString::to_string);
            return;
        }
    };
    let event = parsed.event();
    let _ = (event.to_string(), event.type_name(), event.protocol());
    match (event, event.subject()) {
        (_, Ok(subject)) => assert!(subject.starts_with("choria."), "{subject}"),
        (AnyEvent::Lifecycle(e), Err(err)) => {
            assert_eq!(err.kind(), &ErrorKind::NoSubject);
            assert_eq!(e.component(), "");
        }
        (AnyEvent::Machine(_), Err(err)) => panic!("machine event without subject: {err}"),
    }

    let written = parsed.to_json();
    let show = || String::from_utf8_lossy(bytes).into_owned();
    let again = parse(&written).unwrap_or_else(|e| {
        panic!(
            "{} written back as {} does not parse: {e}",
            show(),
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(again.event(), event, "event after writing back {}", show());
    assert_eq!(again.format(), parsed.format(), "format of {}", show());
    assert_eq!(again.to_json(), written, "second write of {}", show());

    // The other format holds the same event too.
    for format in [Format::Choria, Format::CloudEvents] {
        let other = event.to_json_as(format);
        let reparsed = parse(&other).unwrap_or_else(|e| panic!("{format} of {}: {e}", show()));
        assert_eq!(reparsed.event(), event, "{format} of {}", show());
        assert_eq!(reparsed.format(), format, "{format} of {}", show());
    }
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

/// A change to one member of a reference event.
#[derive(Debug, Clone)]
enum MemberEdit {
    /// Repeat the member right after itself, or at the end, with its own value or another.
    Duplicate {
        at_end: bool,
        value: Option<String>,
    },
    /// Give it a value of another JSON type.
    Replace(String),
    Remove,
    Add(String, String),
}

/// A change to a reference event's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Vec<(usize, u8)>),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Member {
        /// Inside a CloudEvent's `data` rather than at the top.
        inner: bool,
        member: usize,
        edit: MemberEdit,
    },
}

fn edit_members(object: &[u8], member: usize, edit: &MemberEdit) -> Vec<u8> {
    let mut members = match serde_json::from_slice::<Members>(object) {
        Ok(members) if !members.0.is_empty() => members,
        _ => return object.to_vec(),
    };
    let i = member % members.0.len();
    match edit {
        MemberEdit::Duplicate { at_end, value } => {
            let (key, old) = members.0[i].clone();
            let value = value.as_deref().map_or(old, raw);
            let at = if *at_end { members.0.len() } else { i + 1 };
            members.0.insert(at, (key, value));
        }
        MemberEdit::Replace(value) => members.0[i].1 = raw(value),
        MemberEdit::Remove => {
            members.0.remove(i);
        }
        MemberEdit::Add(key, value) => members.0.insert(i, (key.clone(), raw(value))),
    }
    members.render().into_bytes()
}

fn apply(reference: &[u8], edit: &Edit) -> Vec<u8> {
    let mut bytes = reference.to_vec();
    match edit {
        Edit::Flip(flips) => {
            for (at, xor) in flips {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] ^= xor;
                }
            }
        }
        Edit::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
        Edit::Insert(at, inserted) => {
            let i = at % (bytes.len() + 1);
            bytes.splice(i..i, inserted.iter().copied());
        }
        Edit::Member {
            inner,
            member,
            edit,
        } => {
            let Ok(mut top) = serde_json::from_slice::<Members>(&bytes) else {
                return bytes;
            };
            let data = top.0.iter_mut().find(|(key, _)| key == "data");
            return match data {
                Some((_, data)) if *inner && data.get().starts_with('{') => {
                    let edited = edit_members(data.get().as_bytes(), *member, edit);
                    *data = raw(std::str::from_utf8(&edited).unwrap());
                    top.render().into_bytes()
                }
                _ => edit_members(&bytes, *member, edit),
            };
        }
    }
    bytes
}

/// The keys Choria's formats use, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        // Every member name an event format defines.
        prop::sample::select(MEMBERS.to_vec()).prop_map(str::to_owned),
        "[a-z_]{1,10}",
        any::<String>(),
    ]
}

fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Any JSON value: strings (Choria-like and arbitrary), integers of every size and sign,
/// floats, null, booleans, arrays, objects, and nesting 10,000 deep.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<String>().prop_map(|s| string(&s)),
        prop::sample::select(vec![
            "io.choria.lifecycle.v1.alive",
            "io.choria.lifecycle.v1.governor",
            "choria:lifecycle:startup:1",
            "io.choria.machine.v1.transition",
            "io.choria.machine.watcher.exec.v1.state",
            "io.choria.lifecycle",
            "io.choria.machine",
            "1.0",
            "application/json",
            "enter",
            "",
            " ",
        ])
        .prop_map(string),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1_000_000i64..0).prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
        "-?[1-9][0-9]{19,40}",
        "-?[0-9]\\.[0-9]{1,3}[eE][-+]?[0-9]{1,3}",
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        (1usize..=10_000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn member_edit() -> impl Strategy<Value = MemberEdit> {
    prop_oneof![
        1 => (any::<bool>(), prop::option::of(json_value()))
            .prop_map(|(at_end, value)| MemberEdit::Duplicate { at_end, value }),
        3 => json_value().prop_map(MemberEdit::Replace),
        1 => Just(MemberEdit::Remove),
        1 => (key(), json_value()).prop_map(|(k, v)| MemberEdit::Add(k, v)),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => prop::collection::vec((any::<usize>(), 1..=255u8), 1..4).prop_map(Edit::Flip),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (
            any::<usize>(),
            prop::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        // Bytes that are never valid UTF-8 on their own, overlong forms, encoded surrogates.
        1 => (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(0x80..=0xffu8, 1..4),
                Just(vec![0xc0, 0x80]),
                Just(vec![0xed, 0xa0, 0x80]),
                Just(vec![0xf4, 0x90, 0x80, 0x80]),
            ]
        )
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        6 => (any::<bool>(), any::<usize>(), member_edit()).prop_map(|(inner, member, edit)| {
            Edit::Member {
                inner,
                member,
                edit,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_json_like_text_never_panics(text in "[{}\\[\\]\":,0-9a-z. \\\\-]{0,256}") {
        check(text.as_bytes());
    }

    #[test]
    fn mutated_reference_events_never_panic(file in any::<usize>(), edits in prop::collection::vec(edit(), 1..3)) {
        let refs = references();
        let (_, reference) = &refs[file % refs.len()];
        let mut bytes = reference.clone();
        for edit in &edits {
            // A member edit after an edit that broke the JSON leaves the bytes as they are.
            bytes = apply(&bytes, edit);
        }
        check(&bytes);
    }

    #[test]
    fn any_value_of_any_member_never_panics(file in any::<usize>(), inner in any::<bool>(), member in any::<usize>(), value in json_value()) {
        let refs = references();
        let (_, reference) = &refs[file % refs.len()];
        check(&apply(reference, &Edit::Member { inner, member, edit: MemberEdit::Replace(value) }));
    }

    /// Edits that keep most events valid, so that writing back is exercised on many:
    /// strings of any content in place of string members, and members added anywhere.
    #[test]
    fn accepted_variants_write_back_the_same_event(
        file in any::<usize>(),
        strings in prop::collection::vec((any::<bool>(), any::<usize>(), any::<String>()), 0..3),
        added in prop::collection::vec((any::<bool>(), any::<usize>(), key(), json_value()), 0..3),
    ) {
        let refs = references();
        let (_, reference) = &refs[file % refs.len()];
        let mut bytes = reference.clone();
        for (inner, member, text) in strings {
            bytes = apply(&bytes, &Edit::Member { inner, member, edit: MemberEdit::Replace(string(&text)) });
        }
        for (inner, member, key, value) in added {
            bytes = apply(&bytes, &Edit::Member { inner, member, edit: MemberEdit::Add(key, value) });
        }
        check(&bytes);
    }
}

#[test]
fn reference_events_truncated_at_every_point() {
    for (name, bytes) in references() {
        check(bytes);
        for end in 0..bytes.len() {
            let truncated = &bytes[..end];
            // Only trailing white space can go without breaking the JSON.
            if truncated.trim_ascii_end() != bytes.trim_ascii_end() {
                let err = parse(truncated).map(|_| ()).unwrap_err();
                assert_eq!(err.kind(), &ErrorKind::InvalidJson, "{name} cut at {end}");
            }
        }
    }
}

#[test]
fn reference_events_with_invalid_utf8_at_every_byte() {
    for (name, bytes) in references() {
        for at in 0..bytes.len() {
            for bad in [&[0xff][..], &[0xc3], &[0xed, 0xa0, 0x80]] {
                let mut mutated = bytes.clone();
                mutated.splice(at..=at, bad.iter().copied());
                let result = parse(&mutated);
                // Inside an object every byte is in a string or is structure: never accepted.
                assert!(result.is_err(), "{name} with {bad:x?} at {at}");
                check(&mutated);
            }
        }
    }
}

#[test]
fn reference_events_with_each_member_duplicated() {
    for (name, bytes) in references() {
        let top = Members::parse(bytes);
        for i in 0..top.0.len() {
            for at_end in [false, true] {
                for value in [None, Some("\"other\""), Some("7"), Some("null")] {
                    let edit = MemberEdit::Duplicate {
                        at_end,
                        value: value.map(str::to_owned),
                    };
                    for inner in [false, true] {
                        let edit = Edit::Member {
                            inner,
                            member: i,
                            edit: edit.clone(),
                        };
                        check(&apply(bytes, &edit));
                    }
                }
            }
        }
        // The last of a repeated member counts, as in Go's encoding/json.
        if let Ok(parsed) = parse(bytes) {
            if parsed.format() == Format::Choria {
                let mut members = Members::parse(bytes);
                members
                    .0
                    .push(("identity".into(), raw("\"second.example.net\"")));
                let parsed = parse(members.render().as_bytes()).unwrap();
                assert_eq!(parsed.event().identity(), "second.example.net", "{name}");
            }
        }
    }
}

#[test]
fn deep_nesting_never_panics() {
    let deep = 10_000;
    let open = "[".repeat(deep);
    let closed = format!("{open}{}", "]".repeat(deep));
    let objects = format!("{}1{}", "{\"a\":".repeat(deep), "}".repeat(deep));
    let alive = std::str::from_utf8(
        &references()
            .iter()
            .find(|(name, _)| name == "lifecycle/v1/alive.json.compact")
            .unwrap()
            .1,
    )
    .unwrap()
    .to_owned();
    let cloud = std::str::from_utf8(
        &references()
            .iter()
            .find(|(name, _)| name == "cloudevents/v1/lifecycle.json.compact")
            .unwrap()
            .1,
    )
    .unwrap()
    .to_owned();
    let in_alive = |value: &str| alive.replacen("\"0.29.4\"", value, 1);
    let in_data = |value: &str| cloud.replacen("\"0.29.4\"", value, 1);
    let with_extra = |value: &str| alive.replacen('}', &format!(",\"x\":{value}}}"), 1);

    // Nesting deeper than 128 levels is refused wherever it is, as serde_json's `Value`
    // refuses it; within the limit, unknown members are kept and written back.
    let shallow = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let shallow_objects = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    let cases: Vec<(String, Option<ErrorKind>)> = vec![
        (open.clone(), Some(ErrorKind::InvalidJson)),
        (closed.clone(), Some(ErrorKind::InvalidJson)),
        ("{".repeat(deep), Some(ErrorKind::InvalidJson)),
        (objects.clone(), Some(ErrorKind::InvalidJson)),
        (in_alive(&open), Some(ErrorKind::InvalidJson)),
        (in_alive(&closed), Some(ErrorKind::InvalidJson)),
        (in_data(&objects), Some(ErrorKind::InvalidJson)),
        (
            cloud.replacen("{\"protocol\"", &format!("{open}{{\"protocol\""), 1),
            Some(ErrorKind::InvalidJson),
        ),
        (shallow.clone(), Some(ErrorKind::NotAnObject("an array"))),
        (
            in_alive(&shallow),
            Some(ErrorKind::WrongType {
                field: "version".into(),
                expected: "a string",
                found: "an array",
            }),
        ),
        (
            in_data(&shallow_objects),
            Some(ErrorKind::WrongType {
                field: "data.version".into(),
                expected: "a string",
                found: "an object",
            }),
        ),
        (with_extra(&closed), Some(ErrorKind::InvalidJson)),
        (with_extra(&shallow), None),
        (with_extra(&shallow_objects), None),
    ];
    for (input, expected) in cases {
        let result = parse(input.as_bytes());
        match (&result, expected) {
            (Err(err), Some(kind)) => assert_eq!(err.kind(), &kind, "{err}"),
            (Ok(_), None) => {}
            (result, expected) => panic!(
                "{}...: expected {expected:?}, got {:?}",
                &input[..80],
                result.as_ref().map(|p| p.event())
            ),
        }
        check(input.as_bytes());
    }
}

#[test]
fn two_mebibytes_is_too_large() {
    let alive = &references()
        .iter()
        .find(|(name, _)| name == "lifecycle/v1/alive.json.compact")
        .unwrap()
        .1;
    let size = 2 * 1024 * 1024;
    let mut padded = alive.clone();
    padded.resize(size, b' ');
    for input in [padded, vec![b'['; size], vec![0xff; size]] {
        let err = parse(&input).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::TooLarge { size });
        assert_eq!(
            err.to_string(),
            "event of 2097152 bytes is larger than the limit of 1048576 bytes"
        );
    }

    // The limit itself is allowed.
    let mut at_limit = alive.clone();
    at_limit.resize(MAX_EVENT_BYTES, b' ');
    assert!(parse(&at_limit).is_ok());
    at_limit.push(b' ');
    assert_eq!(
        parse(&at_limit).map(|_| ()).unwrap_err().kind(),
        &ErrorKind::TooLarge {
            size: MAX_EVENT_BYTES + 1
        }
    );
}

/// One of the project's own events (builder-made, fixed inputs), in Choria's JSON.
fn own_event(index: usize, identity: &str) -> Vec<u8> {
    use lifecycle_core::{Event, EventType, GovernorEventType};
    let event_type = EventType::ALL[index % EventType::ALL.len()];
    let mut event = Event::builder(event_type)
        .id("6b0b2a6e-1f0e-4c1a-9d2e-000000000007")
        .identity("node1.example.net")
        .component("server")
        .version("0.28.0")
        .new_version("0.29.4")
        .governor("PUPPET")
        .sequence(7)
        .governor_event(GovernorEventType::Enter)
        .timestamp(1_700_000_000)
        .build()
        .unwrap()
        .to_json();
    // Any identity, as the wire may carry it.
    let mut members = Members::parse(&event);
    members.0[2].1 = raw(&string(identity));
    event = members.render().into_bytes();
    event
}

/// A CloudEvent around `data_json` (a Choria object) with the envelope's rule-bearing parts
/// chosen: content type, how data is carried, time, one extension member, member order.
#[derive(Debug, Clone)]
struct Envelope {
    content_type: Option<String>,
    /// 0: the object, 1: a string of it, 2: base64 of it, 3: another JSON value.
    carried: u8,
    other: String,
    time: Option<String>,
    extension: (String, String),
    rotate: usize,
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        prop::option::of(prop_oneof![
            prop::sample::select(vec![
                "application/json",
                "",
                "text/plain",
                "text/plain; charset=utf-8",
                "application/octet-stream",
                "application/cloudevents+json",
                "Application/JSON",
                "text/json",
            ])
            .prop_map(str::to_owned),
            any::<String>(),
        ]),
        0..4u8,
        json_value(),
        prop::option::of(prop_oneof![
            prop::sample::select(vec![
                "\"2023-11-14T22:13:20Z\"",
                "\"2023-11-14T22:13:20.5+01:00\"",
                "\"2023-11-14 22:13:20\"",
                "\"10000-01-01T00:00:00Z\"",
                "\"\"",
                "null",
                "1700000000",
            ])
            .prop_map(str::to_owned),
            any::<String>().prop_map(|s| string(&s)),
        ]),
        (
            prop_oneof![
                prop::sample::select(vec!["comexample", "com_example", "Foo", "", "a1", "x"])
                    .prop_map(str::to_owned),
                "[a-z0-9]{1,8}",
                any::<String>(),
            ],
            json_value(),
        ),
        any::<usize>(),
    )
        .prop_map(
            |(content_type, carried, other, time, extension, rotate)| Envelope {
                content_type,
                carried,
                other,
                time,
                extension,
                rotate,
            },
        )
}

fn render_envelope(data_json: &[u8], envelope: &Envelope) -> Vec<u8> {
    use base64::Engine;
    let text = std::str::from_utf8(data_json).unwrap();
    let mut members = vec![
        ("specversion".to_owned(), "\"1.0\"".to_owned()),
        ("id".to_owned(), "\"1\"".to_owned()),
        ("source".to_owned(), "\"io.choria.lifecycle\"".to_owned()),
        ("type".to_owned(), "\"t\"".to_owned()),
    ];
    if let Some(content_type) = &envelope.content_type {
        members.push(("datacontenttype".into(), string(content_type)));
    }
    if let Some(time) = &envelope.time {
        members.push(("time".into(), time.clone()));
    }
    members.push(envelope.extension.clone());
    members.push(match envelope.carried {
        0 => ("data".into(), text.to_owned()),
        1 => ("data".into(), string(text)),
        2 => (
            "data_base64".into(),
            string(&base64::engine::general_purpose::STANDARD.encode(text)),
        ),
        _ => ("data".into(), envelope.other.clone()),
    });
    let len = members.len();
    members.rotate_left(envelope.rotate % len);
    Members(members.into_iter().map(|(k, v)| (k, raw(&v))).collect())
        .render()
        .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The CloudEvents envelope rules (time, extension names, data by content type) never
    /// panic, and what they accept writes back to the same event in the same format.
    #[test]
    fn envelopes_of_every_shape_never_panic(
        index in any::<usize>(),
        identity in any::<String>(),
        envelope in envelope(),
    ) {
        let event = own_event(index, &identity);
        check(&event);
        let bytes = render_envelope(&event, &envelope);
        check(&bytes);
        let json = envelope.content_type.as_deref().is_none_or(|t| {
            t.is_empty() || lifecycle_core::is_json_content_type(t)
        });
        // Where only the carrying of data is in question, it decides (a short extension
        // value cannot nest too deeply).
        let plain_rest = envelope.extension.1.len() < 200
            && envelope.time.as_deref().is_none_or(|t| t.starts_with("\"2023-11-14T"))
            && envelope.extension.0.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && !envelope.extension.0.is_empty()
            && !matches!(
                envelope.extension.0.as_str(),
                "specversion" | "id" | "source" | "type" | "subject" | "datacontenttype"
                    | "dataschema" | "time" | "data"
            );
        if plain_rest && envelope.carried < 3 {
            let parsed = parse(&bytes);
            let expected = match envelope.carried {
                0 => json,
                1 => !json,
                _ => true,
            };
            prop_assert_eq!(parsed.is_ok(), expected, "{}", String::from_utf8_lossy(&bytes));
            if let Ok(parsed) = parsed {
                let choria = parse(&event).unwrap();
                prop_assert_eq!(parsed.event(), choria.event());
            }
        }
    }
}

/// Every rule's refusal, and every accepted form, on the project's own events: parse, write
/// back, parse again.
#[test]
fn envelope_rules_on_own_events_never_panic() {
    for index in 0..6 {
        let event = own_event(index, "node1.example.net");
        for content_type in [None, Some(""), Some("application/json"), Some("text/plain")] {
            for carried in 0..4 {
                for time in [None, Some("\"2023-11-14T22:13:20Z\""), Some("\"bogus\"")] {
                    for name in ["comexample", "com_example"] {
                        let envelope = Envelope {
                            content_type: content_type.map(str::to_owned),
                            carried,
                            other: "[1]".into(),
                            time: time.map(str::to_owned),
                            extension: (name.into(), "true".into()),
                            rotate: index,
                        };
                        check(&render_envelope(&event, &envelope));
                    }
                }
            }
        }
    }
}

/// The project's own example events (valid ones, both formats), compact, by file name.
fn examples() -> &'static [(String, String)] {
    static FILES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples");
        let files: Vec<(String, String)> = [
            "lifecycle/v1/alive.json",
            "lifecycle/v1/governor.exit.json",
            "lifecycle/v1/startup.json",
            "machine/v1/transition.json",
            "machine/watcher/exec/v1/state.json",
            "cloudevents/v1/lifecycle.json",
        ]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(root.join(name)).unwrap();
            (name.to_string(), Members::parse(bytes).render())
        })
        .collect();
        files
    })
}

/// `object` with one more member at its end, written as text (so that values a `RawValue`
/// refuses, such as nesting 10,000 deep, get in too).
fn with_member(object: &str, key: &str, value: &str) -> String {
    let open = object.strip_suffix('}').unwrap();
    let comma = if open.ends_with('{') { "" } else { "," };
    format!("{open}{comma}{}:{value}}}", string(key))
}

/// Values serde_json cannot read, or that are hard to read: numbers beyond f64, lone
/// surrogates, deep nesting, huge numbers, and any JSON value.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "1e400",
            "-1e400",
            "1e-400",
            r#""\ud800""#,
            r#""a\udc00b""#,
            r#""\ud83d\ude00""#,
            r#"{"\ud800":1e400,"b":"\udfff","c":{"d":-1e400}}"#,
            "[1e400,\"\\ud800\"]",
        ])
        .prop_map(str::to_owned),
        1 => "-?[1-9][0-9]{30,400}(\\.[0-9]{1,50})?([eE][-+]?[0-9]{1,5})?",
        1 => (1usize..=200, any::<bool>()).prop_map(|(depth, objects)| if objects {
            format!("{}1e400{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        } else {
            format!("{}\"\\ud800\"{}", "[".repeat(depth), "]".repeat(depth))
        }),
        2 => json_value(),
    ]
}

/// An example event with hostile members added, at the top or in a CloudEvent's `data`.
fn hostile_event() -> impl Strategy<Value = String> {
    (
        any::<usize>(),
        prop::collection::vec(
            (
                prop_oneof![
                    3 => prop::sample::select(vec!["x", "a", "extra", "version", "b"]).prop_map(str::to_owned),
                    1 => key(),
                ],
                hostile_value(),
            ),
            1..4,
        ),
    )
        .prop_map(|(file, members)| {
            let (_, example) = &examples()[file % examples().len()];
            let mut top = Members::parse(example);
            let data = top.0.iter_mut().find(|(key, _)| key == "data");
            match data {
                Some((_, data)) => {
                    // Inside `data`, as long as a RawValue holds the result.
                    let mut inner = data.get().to_owned();
                    for (key, value) in &members {
                        let added = with_member(&inner, key, value);
                        if RawValue::from_string(added.clone()).is_ok() {
                            inner = added;
                        }
                    }
                    *data = raw(&inner);
                    top.render()
                }
                None => members
                    .iter()
                    .fold(example.clone(), |event, (key, value)| with_member(&event, key, value)),
            }
        })
}

/// One element of the filter language, of every form, with unusual values.
fn filter_element() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[a-z0-9.*?]{1,8}",
        prop::sample::select(vec![
            "1e400", "-inf", "NaN", "0.29.0", "1e-400", "é*", "\u{202e}"
        ])
        .prop_map(str::to_owned),
        any::<String>()
            .prop_map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))),
    ];
    let op = prop::sample::select(vec!["=", "!=", "<", ">", "<=", ">="]);
    prop_oneof![
        prop::sample::select(vec![
            "alive",
            "startup",
            "shutdown",
            "provisioned",
            "governor",
            "upgraded",
            "transition",
            "state",
        ])
        .prop_map(str::to_owned),
        (
            prop::sample::select(vec![
                "identity",
                "component",
                "version",
                "type",
                "governor",
                "machine"
            ]),
            op.clone(),
            value.clone(),
        )
            .prop_map(|(key, op, value)| format!("{key}{op}{value}")),
        (
            prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![
                        "x",
                        "a",
                        "b",
                        "c",
                        "d",
                        "extra",
                        "version",
                        "timestamp"
                    ])
                    .prop_map(str::to_owned),
                    "[a-z_-]{1,4}",
                ],
                1..5,
            ),
            op,
            value,
        )
            .prop_map(|(path, op, value)| format!(".{}{op}{value}", path.join("."))),
    ]
}

/// Filter expressions: mostly well formed, some garbage.
fn filter_expression() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(filter_element(), 1..5).prop_map(|elements| elements.join(",")),
        1 => "[.,=!<>\"\\\\ a-z0-9*?é]{0,40}",
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Parsing any expression never panics: it gives a filter or an error that displays
    /// with a position inside the expression (or just past it).
    #[test]
    fn filter_parse_never_panics(expression in filter_expression()) {
        match Filter::parse(&expression) {
            Ok(filter) => {
                let _ = lifecycle_core::Interest::from_filter(&filter).subjects();
            }
            Err(error) => {
                let message = error.to_string();
                let position = error.position().expect("a filter error says where");
                prop_assert!(message.ends_with(&format!(" at position {position}")), "{}", message);
                prop_assert!(position >= 1 && position <= expression.len() + 1, "{}", message);
            }
        }
    }

    /// Evaluating any filter on any event the parser accepts never panics, whatever unknown
    /// members it holds.
    #[test]
    fn filter_matches_never_panics(expression in filter_expression(), event in hostile_event()) {
        let Ok(filter) = Filter::parse(&expression) else {
            return Ok(());
        };
        if let Ok(parsed) = parse(event.as_bytes()) {
            let once = filter.matches(parsed.event());
            prop_assert_eq!(filter.matches(parsed.event()), once);
        }
    }
}

/// The values the generator adds are accepted in Choria's format, so that evaluation is
/// exercised on them, and compare as the filter module documents.
#[test]
fn hostile_members_are_accepted_and_compared() {
    let greater = Filter::parse(".x>1").unwrap();
    let absent = Filter::parse(".x.a.b=1").unwrap();
    for (name, example) in examples() {
        if name.starts_with("cloudevents/") {
            continue;
        }
        // A number beyond f64 is infinity; a string and an array's text order after "1".
        for value in ["1e400", r#""\ud800""#, "[[[1e400]]]"] {
            let event = with_member(example, "x", value);
            let parsed = parse(event.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(greater.matches(parsed.event()), "{name} with {value}");
            assert!(!absent.matches(parsed.event()), "{name} with {value}");
        }
    }
}
