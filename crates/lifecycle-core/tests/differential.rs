//! The two readers agree, and the general one reads what serde_json reads.
//!
//! `parse` takes a fast path for events laid out exactly as Go's `json.Marshal` writes them,
//! and the general reader (serde_json) for anything else.
//!
//! (a) Fast path against general reader: every event, written as Go writes it, parses to the
//! same `Parsed` (event, format, bytes written back) as the same bytes behind one leading
//! space, which only the general reader takes (`fast.rs`'s own unit test checks that the
//! fast path takes every event we write); layouts Go would not write (keys reordered, white
//! space, escapes, extra members, an empty `subject`) give the same event.
//!
//! (b) General reader against serde_json: `parse` refuses as invalid JSON exactly the texts
//! serde_json refuses as `IgnoredAny`, and nesting deeper than 128 levels, which it refuses
//! too; whatever `serde_json::Value` accepts, it accepts. (`Value` refuses more: a lone
//! surrogate escape, which Go and we read as U+FFFD, and numbers beyond `f64`.)

mod common;

use common::Members;

use lifecycle_core::{ErrorKind, Event, EventType, Format, GovernorEventType, Parsed, parse};
use proptest::prelude::*;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// The fields of a lifecycle event, any of them possibly odd.
#[derive(Debug, Clone)]
struct Spec {
    event_type: EventType,
    id: String,
    identity: String,
    component: String,
    timestamp: i64,
    version: String,
    new_version: String,
    governor: String,
    sequence: u64,
    stage: String,
}

fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

impl Spec {
    /// Choria's JSON members in Go's order (values escaped by serde_json, not as Go would).
    fn members(&self) -> Members {
        let mut members = vec![
            ("protocol", json(self.event_type.protocol())),
            ("id", json(&self.id)),
            ("identity", json(&self.identity)),
            ("component", json(&self.component)),
            ("timestamp", self.timestamp.to_string()),
        ];
        match self.event_type {
            EventType::Startup | EventType::Alive => members.push(("version", json(&self.version))),
            EventType::Shutdown | EventType::Provisioned => {}
            EventType::Governor => members.extend([
                ("governor", json(&self.governor)),
                ("sequence", self.sequence.to_string()),
                ("event_type", json(&self.stage)),
            ]),
            EventType::Upgraded => members.extend([
                ("version", json(&self.version)),
                ("new_version", json(&self.new_version)),
            ]),
        }
        Members(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), RawValue::from_string(v).unwrap()))
                .collect(),
        )
    }

    /// The event, as parsed from its members.
    fn event(&self) -> Event {
        let text = self.members().render();
        Event::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-z0-9.-]{1,24}",
        1 => Just(String::new()),
        2 => any::<String>(),
        2 => prop::sample::select(vec![
            " padded ",
            "\u{3000}ideographic\u{2028}",
            "<script>&amp;</script>",
            "a\u{2028}b\u{2029}c",
            "quote\" backslash\\ slash/",
            "tab\tnew\nline\r",
            "\u{0}\u{8}\u{c}\u{1f}\u{7f}",
            "ünïcödé 😀",
            "\u{feff}bom",
            "node1.example.net",
        ])
        .prop_map(str::to_owned),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(EventType::ALL.to_vec()),
        prop_oneof![
            Just("6b0b2a6e-1f0e-4c1a-9d2e-000000000007".to_owned()),
            text()
        ],
        text(),
        // A component as builders allow it, or anything the wire may carry.
        prop_oneof!["[a-z0-9_-]{1,12}", text()],
        any::<i64>(),
        (text(), text()),
        text().prop_filter("a governor event names its governor", |g| !g.is_empty()),
        any::<u64>(),
        prop_oneof![
            prop::sample::select(vec!["enter", "exit", "timeouts", "eviction"])
                .prop_map(str::to_owned),
            text()
        ],
    )
        .prop_map(
            |(
                event_type,
                id,
                identity,
                component,
                timestamp,
                versions,
                governor,
                sequence,
                stage,
            )| {
                Spec {
                    event_type,
                    id,
                    identity,
                    component,
                    timestamp,
                    version: versions.0,
                    new_version: versions.1,
                    governor,
                    sequence,
                    stage,
                }
            },
        )
}

fn assert_same(a: &Parsed, b: &Parsed, what: &str) {
    assert_eq!(a.event(), b.event(), "event: {what}");
    assert_eq!(a.format(), b.format(), "format: {what}");
    assert_eq!(a.to_json(), b.to_json(), "written back: {what}");
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The members of an object, each string value written with `\u` escapes for everything
/// but ASCII letters and digits; objects (`data`) likewise, recursively.
fn escaped(object: &str) -> String {
    let members = Members::parse(object);
    let parts: Vec<String> = members
        .0
        .iter()
        .map(|(key, value)| {
            let value = match serde_json::from_str::<String>(value.get()) {
                Ok(s) => {
                    let mut out = String::from("\"");
                    for unit in s.encode_utf16() {
                        match char::from_u32(u32::from(unit)) {
                            Some(c) if c.is_ascii_alphanumeric() => out.push(c),
                            _ => out.push_str(&format!("\\u{unit:04x}")),
                        }
                    }
                    out + "\""
                }
                Err(_) if value.get().starts_with('{') => escaped(value.get()),
                Err(_) => value.get().to_owned(),
            };
            format!("{}:{value}", json(key))
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The object with white space around every member and value, members on their own lines.
fn spaced(object: &str) -> String {
    let members = Members::parse(object);
    let parts: Vec<String> = members
        .0
        .iter()
        .map(|(k, v)| format!("{} :\t{} ", json(k), v.get()))
        .collect();
    format!("\r\n{{\n  {}\n}}\n", parts.join(",\n  "))
}

/// The object with its members rotated by `by`, `data`'s members too.
fn rotated(object: &str, by: usize) -> String {
    let mut members = Members::parse(object);
    let len = members.0.len();
    members.0.rotate_left(by % len.max(1));
    for (key, value) in &mut members.0 {
        if key == "data" && value.get().starts_with('{') {
            *value = RawValue::from_string(rotated(value.get(), by + 1)).unwrap();
        }
    }
    members.render()
}

/// (a): one event in both formats, written as Go writes it, then laid out otherwise.
fn check_event(spec: &Spec, by: usize) {
    let event = spec.event();
    for (format, go) in [
        (Format::Choria, event.to_json()),
        (Format::CloudEvents, event.cloudevent().to_json()),
    ] {
        let text = show(&go);
        let fast = parse(&go).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(fast.format(), format, "{text}");
        assert_eq!(fast.event().as_lifecycle(), Some(&event), "{text}");
        assert_eq!(fast.to_json(), go, "written back: {text}");

        let mut general = b" ".to_vec();
        general.extend_from_slice(&go);
        assert_same(&fast, &parse(&general).unwrap(), &text);

        // Other layouts of the same members read as the same event, and write back as Go
        // writes it wherever the members themselves are those Go writes.
        for layout in [escaped(&text), spaced(&text), rotated(&text, by)] {
            let parsed = parse(layout.as_bytes()).unwrap_or_else(|e| panic!("{layout}: {e}"));
            assert_eq!(parsed.event(), fast.event(), "{layout}");
            assert_eq!(parsed.format(), format, "{layout}");
            if format == Format::Choria {
                assert_eq!(parsed.to_json(), go, "{layout}");
            }
        }

        // An extra member is kept and written back where it stood: in the event of a
        // Choria object, among the attributes of a CloudEvent.
        let extra = format!("{},\"zz\":[1,{{\"a\":null}}]}}", &text[..text.len() - 1]);
        let parsed = parse(extra.as_bytes()).unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(show(&parsed.to_json()), extra);
        let kept = match format {
            Format::Choria => {
                let event = parsed.event().as_lifecycle().unwrap();
                let extra: Vec<(&str, &str)> = event.extra().map(|(k, v)| (k, v.get())).collect();
                assert_eq!(extra, [("zz", "[1,{\"a\":null}]")], "{text}");
                None
            }
            Format::CloudEvents => {
                assert_eq!(parsed.event(), fast.event(), "{text}");
                parsed.attribute("zz").map(RawValue::get)
            }
        };
        assert!(format == Format::Choria || kept == Some("[1,{\"a\":null}]"));
    }

    // An empty `subject` is kept as received, by either path.
    if event.identity().trim().is_empty() {
        let go = show(&event.cloudevent().to_json());
        let with_subject = go.replacen(
            ",\"datacontenttype\"",
            ",\"subject\":\"\",\"datacontenttype\"",
            1,
        );
        let parsed = parse(with_subject.as_bytes()).unwrap();
        assert_eq!(parsed.event().as_lifecycle(), Some(&event));
        assert_eq!(show(&parsed.to_json()), with_subject);
        assert_same(
            &parsed,
            &parse(format!(" {with_subject}").as_bytes()).unwrap(),
            &with_subject,
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_and_general_readers_agree(spec in spec(), by in 0..16usize) {
        check_event(&spec, by);
    }
}

/// Every type, with the identities the fast path reads (plain, padded, empty, non-ASCII)
/// and those it leaves to the general reader (escapes).
#[test]
fn fast_and_general_readers_agree_on_a_table() {
    for event_type in EventType::ALL {
        for identity in [
            "node1.example.net",
            " padded ",
            "",
            "\t",
            "ünïcödé 😀",
            "<a&b>",
            "a\u{2028}b",
            "quote\"",
            "new\nline",
        ] {
            for stage in [
                GovernorEventType::Enter,
                GovernorEventType::Other("x".into()),
            ] {
                let spec = Spec {
                    event_type,
                    id: "6b0b2a6e-1f0e-4c1a-9d2e-000000000007".into(),
                    identity: identity.into(),
                    component: "server".into(),
                    timestamp: 1_700_000_000,
                    version: "0.28.0".into(),
                    new_version: "0.29.4".into(),
                    governor: "PUPPET".into(),
                    sequence: 7,
                    stage: stage.as_str().into(),
                };
                for by in 0..3 {
                    check_event(&spec, by);
                }
            }
        }
    }
}

/// The deepest nesting of brackets in JSON text serde_json has accepted.
fn depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    deepest
}

const ALIVE_MEMBERS: &str = r#""protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n","component":"c","timestamp":1,"version":"v""#;

/// JSON documents holding `value` where an event can hold anything: the whole document, an
/// unknown member, a known one, a member name, inside a CloudEvent's `data`.
fn documents(value: &str) -> Vec<String> {
    vec![
        value.to_owned(),
        format!("{{{ALIVE_MEMBERS},\"x\":{value}}}"),
        format!("{{\"x\":{value},{ALIVE_MEMBERS}}}"),
        format!(
            "{{\"protocol\":\"io.choria.lifecycle.v1.alive\",\"identity\":{value},\"timestamp\":1}}"
        ),
        format!("{{{ALIVE_MEMBERS},{value}:1}}"),
        format!(
            "{{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"io.choria.lifecycle\",\"type\":\"t\",\
             \"x\":{value},\"data\":{{{ALIVE_MEMBERS},\"y\":{value}}}}}"
        ),
    ]
}

/// (b) for one text: `parse` calls it invalid JSON exactly when serde_json does, or when it
/// nests deeper than 128 levels.
fn check_acceptance(text: &str) {
    let ignored = serde_json::from_str::<IgnoredAny>(text).is_ok();
    let value = serde_json::from_str::<serde_json::Value>(text).is_ok();
    let expected = ignored && depth(text) <= 128;
    let result = parse(text.as_bytes());
    let ours = !matches!(&result, Err(e) if e.kind() == &ErrorKind::InvalidJson);
    assert_eq!(
        ours,
        expected,
        "{text:?}: ours {:?}, serde_json {ignored}",
        result
            .as_ref()
            .map(|p| p.event())
            .map_err(ToString::to_string)
    );
    assert!(
        !value || ours,
        "{text:?}: serde_json::Value accepts it, we do not"
    );
}

#[test]
fn the_general_reader_accepts_what_serde_json_accepts_on_a_table() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    let mut values: Vec<String> = [
        "0",
        "-0",
        "1.5e10",
        "-1E-2",
        "1e400",
        "-1e400",
        "1E+2",
        "123456789012345678901234567890",
        "18446744073709551616",
        "-9223372036854775809",
        "01",
        "-01",
        "1.",
        ".5",
        "-",
        "1e",
        "1e+",
        "+1",
        "0x1",
        "NaN",
        "Infinity",
        "1.0.0",
        "--1",
        "1 2",
        r#""a\u00e9\n""#,
        r#""\x""#,
        r#""\u12""#,
        r#""\u12G4""#,
        r#""\U0041""#,
        "\"tab\there\"",
        "\"nul\u{0}\"",
        "\"del\u{7f}\"",
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800\udc00""#,
        r#""\ud800\u0041""#,
        r#""\ud800\\""#,
        r#""\ud800\n""#,
        r#""\udbff\udfff""#,
        r#""\/""#,
        r#""\'""#,
        "\"\u{e9}\u{2028}\"",
        "\"",
        "\"\\\"",
        "\"unterminated",
        "true",
        "tru",
        "nul",
        "null",
        "false",
        "True",
        "nulll",
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        "{a:1}",
        "{'a':1}",
        "[1,2,]",
        "[1 2]",
        "[,]",
        "[,1]",
        r#"{"a":[{"b":null}]}"#,
        r#"{"a":1 "b":2}"#,
        r#"{"a":1,,"b":2}"#,
        r#"{"a"}"#,
        r#"{"a":}"#,
        r#"{,}"#,
        "  {} ",
        "{} {}",
        "{}x",
        "[",
        "]",
        "{",
        "}",
        "",
        " ",
        "\t\n\r ",
        "\u{feff}{}",
        "{}\u{0}",
        "/*c*/{}",
        "{}//",
        "\u{a0}{}",
        "\u{c}{}",
        "\u{b}[]",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for n in [126, 127, 128, 129, 300] {
        values.push(nested(n));
        values.push(objects(n));
    }
    for value in &values {
        for document in documents(value) {
            check_acceptance(&document);
        }
    }
}

/// Valid JSON with the pieces that are easy to get wrong, white space anywhere.
fn json_value() -> impl Strategy<Value = String> {
    let space = prop::sample::select(vec!["", "", " ", "\n", "\t", "\r\n  "]);
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,4})?",
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        prop::collection::vec(
            prop_oneof![
                "[a-z ]{1,3}".prop_map(|s| s.to_string()),
                prop::sample::select(vec![
                    r"\ud800",
                    r"\udfff",
                    r"\ud83d\ude00",
                    r"\u0000",
                    r"\n",
                    r"\/",
                    r#"\""#,
                    r"\\",
                    "é",
                    "\u{2028}",
                ])
                .prop_map(str::to_owned),
            ],
            0..6
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat())),
    ];
    (leaf, space.clone(), space)
        .prop_map(|(v, a, b)| format!("{a}{v}{b}"))
        .prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-z]{0,3}", inner), 0..4).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\":{v}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
}

/// A valid value with a few characters deleted, doubled or inserted: near misses.
fn near_json() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        prop_oneof![
            Just(None),
            prop::sample::select(vec![
                '{', '}', '[', ']', '"', ',', ':', '\\', ' ', '0', '-', '.', 'e', 'u', 'n', '\u{1}'
            ])
            .prop_map(Some),
        ],
        any::<bool>(),
    );
    (json_value(), prop::collection::vec(edit, 0..3)).prop_map(|(value, edits)| {
        let mut chars: Vec<char> = value.chars().collect();
        for (at, insert, replace) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match (insert, replace) {
                (Some(c), true) => chars[i] = c,
                (Some(c), false) => chars.insert(i, c),
                (None, true) => {
                    chars.remove(i);
                }
                (None, false) => chars.insert(i, chars[i]),
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn the_general_reader_accepts_what_serde_json_accepts(value in near_json(), at in 0..6usize) {
        let documents = documents(&value);
        check_acceptance(&documents[at % documents.len()]);
    }

    #[test]
    fn json_like_text_is_refused_as_serde_json_refuses_it(text in "[{}\\[\\]\":,0-9a-z. \\\\-]{0,64}") {
        check_acceptance(&text);
        check_acceptance(&format!("{{{ALIVE_MEMBERS},\"x\":{text}}}"));
    }
}
