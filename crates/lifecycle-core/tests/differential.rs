//! The two readers agree, and the general one reads what serde_json reads.
//!
//! `parse` takes a fast path for events laid out as Go's `json.Marshal` writes them, and the
//! general reader (ours, `scan.rs`, with serde_json where it gives up) for anything else.
//!
//! (a) Fast path against general reader: every event, written as Go writes it, parses to the
//! same `Parsed` (event, format, bytes written back) as the same bytes with a space before
//! the first `:`, which only the general reader takes (`fast.rs`'s own unit test checks that
//! the fast path takes every event we write); layouts Go would not write (keys reordered,
//! white space, escapes, extra members, an empty `subject`) give the same event.
//!
//! (b) General reader against serde_json: `parse` refuses as invalid JSON exactly the texts
//! serde_json refuses as `IgnoredAny`, and nesting deeper than 128 levels, which it refuses
//! too; whatever `serde_json::Value` accepts, it accepts. (`Value` refuses more: a lone
//! surrogate escape, which Go and we read as U+FFFD, and numbers beyond `f64`.)
//!
//! (c) Our object reader against serde_json's: every input of (a) and (b), and events laid
//! out every way (members in any order, extra members of every JSON kind, repeated keys,
//! escapes, white space anywhere) give, through `parse`, exactly what they give through
//! `parse_with_serde_json`, where serde_json reads every object: the same event or the same
//! error (`common::parse_checked`).

mod common;

use common::{MEMBERS, Members, parse_checked};

use lifecycle_core::{ErrorKind, Event, EventType, Format, GovernorEventType, Parsed};
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
        let fast = parse_checked(&go).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(fast.format(), format, "{text}");
        assert_eq!(fast.event().as_lifecycle(), Some(&event), "{text}");
        assert_eq!(fast.to_json(), go, "written back: {text}");

        let general = text.replacen("\":", "\" :", 1);
        assert_same(&fast, &parse_checked(general.as_bytes()).unwrap(), &text);

        // Other layouts of the same members read as the same event, and write back as Go
        // writes it wherever the members themselves are those Go writes.
        for layout in [escaped(&text), spaced(&text), rotated(&text, by)] {
            let parsed =
                parse_checked(layout.as_bytes()).unwrap_or_else(|e| panic!("{layout}: {e}"));
            assert_eq!(parsed.event(), fast.event(), "{layout}");
            assert_eq!(parsed.format(), format, "{layout}");
            if format == Format::Choria {
                assert_eq!(parsed.to_json(), go, "{layout}");
            }
        }

        // An extra member is kept and written back where it stood: in the event of a
        // Choria object, among the attributes of a CloudEvent.
        let extra = format!("{},\"zz\":[1,{{\"a\":null}}]}}", &text[..text.len() - 1]);
        let parsed = parse_checked(extra.as_bytes()).unwrap_or_else(|e| panic!("{extra}: {e}"));
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
        let parsed = parse_checked(with_subject.as_bytes()).unwrap();
        assert_eq!(parsed.event().as_lifecycle(), Some(&event));
        assert_eq!(show(&parsed.to_json()), with_subject);
        let general = with_subject.replacen("\":", "\" :", 1);
        assert_same(
            &parsed,
            &parse_checked(general.as_bytes()).unwrap(),
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
    let result = parse_checked(text.as_bytes());
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

// (c) Layouts of every kind, held to serde_json.

/// A member name as JSON text: one an event format defines (so perhaps a repeated one),
/// prefixes and near misses of those, unknown ones, or names spelt with escapes.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(MEMBERS.to_vec()).prop_map(json),
        1 => (prop::sample::select(MEMBERS.to_vec()), 0..12usize, "[a-z_\"]?")
            .prop_map(|(known, len, more)| json(&format!("{}{more}", &known[..len.min(known.len())]))),
        2 => "[a-z0-9_]{0,10}".prop_map(|name| json(&name)),
        1 => any::<String>().prop_map(|name| json(&name)),
        1 => prop::sample::select(vec![
            r#""\u0069d""#,
            r#""identit\u0079""#,
            r#""\u0064ata""#,
            r#""x\ud800""#,
            r#""\"""#,
            r#""\\""#,
            r#""\/""#,
            r#""""#,
            "\"\u{e9}\"",
        ])
        .prop_map(str::to_owned),
    ]
}

/// How an object's members are laid out: members added (each where an index says), the
/// order changed (each index pair swapped), strings escaped, white space between tokens.
#[derive(Debug, Clone)]
struct Layout {
    added: Vec<(String, String, prop::sample::Index)>,
    swaps: Vec<(prop::sample::Index, prop::sample::Index)>,
    escape: Vec<bool>,
    space: Vec<&'static str>,
}

fn layout(added: usize) -> impl Strategy<Value = Layout> {
    (
        prop::collection::vec(
            (name(), json_value(), any::<prop::sample::Index>()),
            0..=added,
        ),
        prop::collection::vec(any::<(prop::sample::Index, prop::sample::Index)>(), 0..8),
        prop::collection::vec(any::<bool>(), 1..4),
        prop::collection::vec(
            prop::sample::select(vec!["", "", "", " ", "\n", "\t", "\r\n  ", "  \t"]),
            1..8,
        ),
    )
        .prop_map(|(added, swaps, escape, space)| Layout {
            added,
            swaps,
            escape,
            space,
        })
}

/// A JSON string with every character but ASCII letters and digits as a `\u` escape.
fn escape_string(raw: &str) -> String {
    let Ok(text) = serde_json::from_str::<String>(raw) else {
        return raw.to_owned();
    };
    let mut out = String::from("\"");
    for unit in text.encode_utf16() {
        match char::from_u32(u32::from(unit)) {
            Some(c) if c.is_ascii_alphanumeric() => out.push(c),
            _ => out.push_str(&format!("\\u{unit:04x}")),
        }
    }
    out + "\""
}

/// `members` (names and values as JSON text) as an object laid out as `layout` says.
fn lay_out(members: &[(String, String)], layout: &Layout) -> String {
    let mut members: Vec<(String, String)> = members
        .iter()
        .enumerate()
        .map(|(i, (name, value))| {
            if layout.escape[i % layout.escape.len()] {
                (escape_string(name), escape_string(value))
            } else {
                (name.clone(), value.clone())
            }
        })
        .collect();
    for (name, value, at) in &layout.added {
        members.insert(at.index(members.len() + 1), (name.clone(), value.clone()));
    }
    let len = members.len();
    if len > 0 {
        for (a, b) in &layout.swaps {
            members.swap(a.index(len), b.index(len));
        }
    }
    let mut spaces = layout.space.iter().cycle();
    let mut space = || *spaces.next().unwrap_or(&"");
    let mut out = format!("{}{{{}", space(), space());
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!(",{}", space()));
        }
        out.push_str(&format!("{name}{}:{}{value}{}", space(), space(), space()));
    }
    out + &format!("}}{}", space())
}

/// An event's members as JSON text, in Go's order.
fn member_texts(members: &Members) -> Vec<(String, String)> {
    members
        .0
        .iter()
        .map(|(name, value)| (json(name), value.get().to_owned()))
        .collect()
}

/// The CloudEvent members we write for `event`, with `data` as given.
fn envelope_members(event: &Event, data: String) -> Vec<(String, String)> {
    let mut members = vec![
        ("specversion", json("1.0")),
        ("id", json(event.id())),
        ("source", json("io.choria.lifecycle")),
        ("type", json(event.protocol())),
    ];
    if !event.identity().trim().is_empty() {
        members.push(("subject", json(event.identity().trim())));
    }
    members.push(("datacontenttype", json("application/json")));
    if let Some(time) = lifecycle_core::format_utc(event.timestamp()) {
        members.push(("time", json(&time)));
    }
    members.push(("data", data));
    members
        .into_iter()
        .map(|(name, value)| (json(name), value))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// A Choria object laid out any way reads as serde_json reads it; with only its own
    /// members, as the event Go's layout gives.
    #[test]
    fn choria_objects_laid_out_any_way_read_as_serde_json_reads_them(
        spec in spec(),
        layout in layout(3),
    ) {
        let text = lay_out(&member_texts(&spec.members()), &layout);
        let parsed = parse_checked(text.as_bytes());
        if layout.added.is_empty() {
            let parsed = parsed.unwrap_or_else(|e| panic!("{text}: {e}"));
            prop_assert_eq!(parsed.event().as_lifecycle(), Some(&spec.event()), "{}", text);
        }
    }

    /// A CloudEvent laid out any way, its event too, reads as serde_json reads it; with
    /// only the members we write, as the event itself.
    #[test]
    fn cloudevents_laid_out_any_way_read_as_serde_json_read_them(
        spec in spec(),
        inner in layout(2),
        outer in layout(2),
    ) {
        let event = spec.event();
        let data = lay_out(&member_texts(&spec.members()), &inner);
        let text = lay_out(&envelope_members(&event, data), &outer);
        let parsed = parse_checked(text.as_bytes());
        if inner.added.is_empty() && outer.added.is_empty() {
            let parsed = parsed.unwrap_or_else(|e| panic!("{text}: {e}"));
            prop_assert_eq!(parsed.event().as_lifecycle(), Some(&event), "{}", text);
        }
    }
}

const ALIVE: &str = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n","component":"c","timestamp":1,"version":"v"}"#;

/// The alive event with `members` added after Go's members.
fn alive_with(members: &str) -> String {
    format!("{},{members}}}", &ALIVE[..ALIVE.len() - 1])
}

/// The alive event's CloudEvent with `members` added after its attributes, and the alive
/// event as its data.
fn cloudevent_with(members: &str, data: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"1","source":"io.choria.lifecycle","type":"io.choria.lifecycle.v1.alive","subject":"n","datacontenttype":"application/json","time":"1970-01-01T00:00:01Z","data":{data}{members}}}"#
    )
}

/// What `parse` gives: the event's identity and the names of its extra members, or an
/// error's message.
type Expected = Result<(&'static str, Vec<&'static str>), &'static str>;

/// What a repeated key, white space, escapes and every kind of extra member do, through
/// both readers.
#[test]
fn layouts_read_as_serde_json_reads_them_on_a_table() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let deep_objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    let mut cases: Vec<(String, Expected)> = vec![
        // A repeated key: the last one counts, as in Go.
        (alive_with(r#""identity":"m""#), Ok(("m", vec![]))),
        (alive_with(r#""identity":null"#), Ok(("", vec![]))),
        (alive_with(r#""ident\u0069ty":"m""#), Ok(("m", vec![]))),
        (alive_with(r#""identity":1"#), Err("field 'identity' must be a string, found a number")),
        // A repeated unknown member is kept each time.
        (alive_with(r#""x":1,"x":2"#), Ok(("n", vec!["x", "x"]))),
        // Another type's key is kept; repeated, its last.
        (alive_with(r#""machine":1,"machine":{}"#), Ok(("n", vec!["machine"]))),
        // Extra members of every kind.
        (
            alive_with(
                r#""a":null,"b":true,"c":false,"d":-0,"e":1.5E-3,"f":1e400,"g":"\ud800\n","h":[],"i":{},"j":[{"k":[null,{"l":"m"}]}]"#,
            ),
            Ok(("n", vec!["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])),
        ),
        (alive_with(&format!(r#""x":{}"#, deep(126))), Ok(("n", vec!["x"]))),
        (alive_with(&format!(r#""x":{}"#, deep_objects(126))), Ok(("n", vec!["x"]))),
        (
            alive_with(&format!(r#""x":{}"#, deep(127))),
            Err("invalid x '(nested value)': nests deeper than 126 levels, too deep for the event to be carried in a CloudEvent"),
        ),
        (
            alive_with(&format!(r#""x":{}"#, deep(128))),
            Err("not valid JSON: nesting deeper than 128 levels at line 1 column 243"),
        ),
        // White space JSON allows, anywhere; other white space is refused.
        (
            " \t\n\r{ \"protocol\" :\t\"io.choria.lifecycle.v1.alive\" ,\n\"identity\"\r\n:\"n\" } \n".to_owned(),
            Ok(("n", vec![])),
        ),
        (ALIVE.replacen('{', "{\u{a0}", 1), Err("not valid JSON: expected a string key at line 1 column 2")),
        (format!("\u{feff}{ALIVE}"), Err("not valid JSON: expected a JSON value at line 1 column 1")),
        (ALIVE.replacen('{', "{\u{c}", 1), Err("not valid JSON: expected a string key at line 1 column 2")),
        // Escapes in names and values.
        (
            ALIVE.replace(r#""identity":"n""#, r#""\u0069dentity":"\u006e\ud83d\ude00""#),
            Ok(("n\u{1F600}", vec![])),
        ),
        (ALIVE.replace(r#""n""#, r#""\x""#), Err("not valid JSON: invalid escape in string at line 1 column 65")),
        // A repeated `data`: the last one counts.
        (
            cloudevent_with(r#","data":{"protocol":"io.choria.lifecycle.v1.alive","identity":"m"}"#, ALIVE),
            Ok(("m", vec![])),
        ),
        (cloudevent_with(r#","data":null"#, ALIVE), Err("missing required field 'data'")),
        (
            cloudevent_with(
                r#","data_base64":"eyJwcm90b2NvbCI6ImlvLmNob3JpYS5saWZlY3ljbGUudjEuYWxpdmUiLCJpZGVudGl0eSI6Im0ifQ==""#,
                ALIVE,
            ),
            Ok(("m", vec![])),
        ),
        (cloudevent_with(r#","ext":[1,{"a":[]}]"#, &ALIVE.replace("\"v\"}", "\"v\",\"x\":{}}")), Ok(("n", vec!["x"]))),
        (cloudevent_with("", &format!("{{\"x\":{},{}", deep(126), &ALIVE[1..])), Ok(("n", vec!["x"]))),
        (
            cloudevent_with("", &format!("{{\"x\":{},{}", deep(127), &ALIVE[1..])),
            Err("not valid JSON: nesting deeper than 128 levels at line 1 column 319"),
        ),
    ];
    // The accepted ones, laid out with white space everywhere, read the same.
    let spaced: Vec<_> = cases
        .iter()
        .filter(|(_, expected)| expected.is_ok())
        .map(|(input, expected)| (spaced_everywhere(input), expected.clone()))
        .collect();
    cases.extend(spaced);
    for (input, expected) in cases {
        let got = parse_checked(input.as_bytes());
        match (&got, &expected) {
            (Ok(parsed), Ok((identity, extra))) => {
                let event = parsed.event().as_lifecycle().unwrap();
                assert_eq!(event.identity(), *identity, "{input}");
                assert_eq!(
                    event.extra().map(|(name, _)| name).collect::<Vec<_>>(),
                    *extra,
                    "{input}"
                );
            }
            (Err(error), Err(message)) => assert_eq!(error.to_string(), *message, "{input}"),
            _ => panic!(
                "{input}: got {:?}, expected {expected:?}",
                got.as_ref().map(Parsed::event)
            ),
        }
    }
}

/// `text`, valid JSON, with a space, a tab and a newline around every token outside
/// strings.
fn spaced_everywhere(text: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    in_string = false;
                    out.push_str(" \t\n");
                }
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push_str(" \t\n\"");
        } else if matches!(c, '{' | '}' | '[' | ']' | ':' | ',') {
            out.push_str(&format!(" \t\n{c} \t\n"));
        } else {
            out.push(c);
        }
    }
    out
}
