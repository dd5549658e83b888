//! Serialising events: Choria's JSON and CloudEvents structured JSON, keys in Choria's order,
//! strings escaped as Go's `json.Marshal` escapes them.

use std::borrow::Cow;
use std::fmt;
use std::io;

use compact_str::CompactString;
use serde_core::ser::{Serialize, SerializeMap, Serializer};
use serde_json::ser::{CharEscape, Formatter};
use serde_json::value::RawValue;

use crate::base64;
#[cfg(feature = "id")]
use crate::builder::new_id;
use crate::error::Error;
use crate::event::{Event, EventKind};
use crate::machine::{MachineEvent, Transition, WatcherState};
use crate::parsed::{AnyEvent, DataForm, Format, LIFECYCLE_SOURCE, MACHINE_SOURCE, Parsed};
use crate::rfc3339;

/// The compact JSON of `value`, strings escaped as Go escapes them.
fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoEscapes);
    // Our Serialize impls write only string keys and valid raw values into a Vec, the one
    // case where serde_json cannot fail.
    value
        .serialize(&mut serializer)
        .expect("serialising an event to memory cannot fail");
    out
}

/// Compact JSON whose strings are escaped as Go's `json.Marshal` escapes them (Choria writes
/// events with it): besides what JSON requires, `<`, `>` and `&` as `\u003c`, `\u003e`,
/// `\u0026` (Go's HTML-safe escaping) and U+2028, U+2029 as `\u2028`, `\u2029`, so that the
/// same event gives the same bytes from either implementation. Control characters are as
/// serde_json writes them, which is what Go writes since Go 1.22 (`\b`, `\f`, `\n`, `\r`,
/// `\t`, others `\u00XX`). Raw values (extra members) are written as received.
struct GoEscapes;

/// Whether `bytes` holds `<`, `>`, `&` or 0xE2 (the first byte of U+2028 and U+2029), eight
/// bytes at a time: this runs over every string of every event written.
fn may_need_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` equal to `b` leaves its high bit set in the result (and none is set
    // when none is equal).
    let has = |x: u64, b: u8| {
        let y = x ^ (ONES * u64::from(b));
        y.wrapping_sub(ONES) & !y & HIGH
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        if has(x, b'<') | has(x, b'>') | has(x, b'&') | has(x, 0xE2) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| matches!(b, b'<' | b'>' | b'&' | 0xE2))
}

impl Formatter for GoEscapes {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        // The usual fragment has nothing to escape: one cheap pass says so.
        if !may_need_escape(bytes) {
            return writer.write_all(bytes);
        }
        let mut start = 0;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let (escape, len): (&[u8], usize) = match b {
                b'<' => (b"\\u003c", 1),
                b'>' => (b"\\u003e", 1),
                b'&' => (b"\\u0026", 1),
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                0xE2 => match bytes.get(i + 1..i + 3) {
                    Some([0x80, 0xA8]) => (b"\\u2028", 3),
                    Some([0x80, 0xA9]) => (b"\\u2029", 3),
                    _ => {
                        i += 1;
                        continue;
                    }
                },
                _ => {
                    i += 1;
                    continue;
                }
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(escape)?;
            i += len;
            start = i;
        }
        writer.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        serde_json::ser::CompactFormatter.write_char_escape(writer, char_escape)
    }
}

fn extra<M: SerializeMap>(
    map: &mut M,
    extra: &[(CompactString, Box<RawValue>)],
) -> Result<(), M::Error> {
    extra
        .iter()
        .try_for_each(|(k, v)| map.serialize_entry(k.as_str(), v))
}

/// `choria` or `cloudevents`.
impl Serialize for Format {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Choria's JSON: `protocol`, `id`, `identity`, `component`, `timestamp`, then the type's own
/// keys, then any extra members received.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("protocol", self.protocol())?;
        map.serialize_entry("id", self.id.as_str())?;
        map.serialize_entry("identity", self.identity.as_str())?;
        map.serialize_entry("component", self.component.as_str())?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        match &self.kind {
            EventKind::Startup { version } | EventKind::Alive { version } => {
                map.serialize_entry("version", version.as_str())?;
            }
            EventKind::Shutdown | EventKind::Provisioned => {}
            EventKind::Governor {
                governor,
                sequence,
                event_type,
            } => {
                map.serialize_entry("governor", governor.as_str())?;
                map.serialize_entry("sequence", sequence)?;
                map.serialize_entry("event_type", event_type.as_str())?;
            }
            EventKind::Upgraded {
                version,
                new_version,
            } => {
                map.serialize_entry("version", version.as_str())?;
                map.serialize_entry("new_version", new_version.as_str())?;
            }
        }
        extra(&mut map, &self.extra)?;
        map.end()
    }
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("protocol", crate::machine::TRANSITION_PROTOCOL)?;
        map.serialize_entry("identity", &self.identity)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        map.serialize_entry("machine", &self.machine)?;
        map.serialize_entry("transition", &self.transition)?;
        map.serialize_entry("from_state", &self.from_state)?;
        map.serialize_entry("to_state", &self.to_state)?;
        extra(&mut map, &self.extra)?;
        map.end()
    }
}

impl Serialize for WatcherState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("protocol", &self.protocol())?;
        map.serialize_entry("identity", &self.identity)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        map.serialize_entry("type", &self.watcher_type)?;
        map.serialize_entry("machine", &self.machine)?;
        map.serialize_entry("name", &self.name)?;
        if let Some(exec) = &self.exec {
            map.serialize_entry("command", &exec.command)?;
            map.serialize_entry("previous_outcome", &exec.previous_outcome)?;
            map.serialize_entry("previous_run_time", &exec.previous_run_time)?;
        }
        extra(&mut map, &self.extra)?;
        map.end()
    }
}

impl Serialize for MachineEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MachineEvent::Transition(t) => t.serialize(serializer),
            MachineEvent::WatcherState(w) => w.serialize(serializer),
        }
    }
}

/// The Choria-format object of either kind of event.
impl Serialize for AnyEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyEvent::Lifecycle(e) => e.serialize(serializer),
            AnyEvent::Machine(m) => m.serialize(serializer),
        }
    }
}

/// An event as a CloudEvents 1.0 structured JSON object, from [`Event::cloudevent`] or
/// [`MachineEvent::cloudevent`]: serialise it with serde, or call [`CloudEventJson::to_json`].
#[derive(Debug, Clone)]
pub struct CloudEventJson<'a> {
    id: Cow<'a, str>,
    event: EventRef<'a>,
}

#[derive(Debug, Clone, Copy)]
enum EventRef<'a> {
    Lifecycle(&'a Event),
    // A machine event's CloudEvent needs a fresh id: only made with the `id` feature.
    #[cfg_attr(not(feature = "id"), allow(dead_code))]
    Machine(&'a MachineEvent),
}

impl CloudEventJson<'_> {
    /// The CloudEvent's `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }
}

impl Serialize for CloudEventJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (source, protocol, identity, timestamp) = match self.event {
            EventRef::Lifecycle(e) => (
                LIFECYCLE_SOURCE,
                Cow::Borrowed(e.protocol()),
                e.identity(),
                e.timestamp(),
            ),
            EventRef::Machine(m) => (
                MACHINE_SOURCE,
                Cow::Owned(m.protocol()),
                m.identity(),
                m.timestamp(),
            ),
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("specversion", "1.0")?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("source", source)?;
        map.serialize_entry("type", &protocol)?;
        let subject = identity.trim();
        if !subject.is_empty() {
            map.serialize_entry("subject", subject)?;
        }
        map.serialize_entry("datacontenttype", "application/json")?;
        // A time RFC 3339 cannot write is left out: `time` is optional, a malformed one is
        // not (Go's SDK would write a five-digit year that no reader, its own included, reads).
        if let Some(time) = rfc3339::format_utc(timestamp) {
            map.serialize_entry("time", &time)?;
        }
        match self.event {
            EventRef::Lifecycle(e) => map.serialize_entry("data", e)?,
            EventRef::Machine(m) => map.serialize_entry("data", m)?,
        }
        map.end()
    }
}

impl Event {
    /// The event as a CloudEvent; its `id` is the event's id.
    pub fn cloudevent(&self) -> CloudEventJson<'_> {
        CloudEventJson {
            id: Cow::Borrowed(self.id.as_str()),
            event: EventRef::Lifecycle(self),
        }
    }

    /// Choria's JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }
}

impl MachineEvent {
    /// The event as a CloudEvent with a fresh UUID v4 `id`, as Choria sends them (a machine
    /// event's own `id` names the machine instance, not the event). Needs the `id` feature.
    #[cfg(feature = "id")]
    pub fn cloudevent(&self) -> CloudEventJson<'_> {
        CloudEventJson {
            id: Cow::Owned(new_id()),
            event: EventRef::Machine(self),
        }
    }

    /// Choria's JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }
}

impl AnyEvent {
    /// The event as a CloudEvent; a machine event's gets a fresh `id`. Needs the `id` feature.
    #[cfg(feature = "id")]
    pub fn cloudevent(&self) -> CloudEventJson<'_> {
        match self {
            AnyEvent::Lifecycle(e) => e.cloudevent(),
            AnyEvent::Machine(m) => m.cloudevent(),
        }
    }

    /// Choria's JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }

    /// The bytes in `format`. Needs the `id` feature.
    #[cfg(feature = "id")]
    pub fn to_json_as(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Choria => self.to_json(),
            Format::CloudEvents => self.cloudevent().to_json(),
        }
    }

    /// The type name: `startup` ... `upgraded`, or `transition`, `state` for machine events.
    pub fn type_name(&self) -> &'static str {
        match self {
            AnyEvent::Lifecycle(e) => e.event_type().as_str(),
            AnyEvent::Machine(m) => m.type_name(),
        }
    }

    /// The protocol on the wire.
    pub fn protocol(&self) -> Cow<'static, str> {
        match self {
            AnyEvent::Lifecycle(e) => Cow::Borrowed(e.protocol()),
            AnyEvent::Machine(m) => Cow::Owned(m.protocol()),
        }
    }

    /// The event's `id`.
    pub fn id(&self) -> &str {
        match self {
            AnyEvent::Lifecycle(e) => e.id(),
            AnyEvent::Machine(m) => m.id(),
        }
    }

    /// Identity of the sending node.
    pub fn identity(&self) -> &str {
        match self {
            AnyEvent::Lifecycle(e) => e.identity(),
            AnyEvent::Machine(m) => m.identity(),
        }
    }

    /// The component; machine events have none.
    pub fn component(&self) -> Option<&str> {
        match self {
            AnyEvent::Lifecycle(e) => Some(e.component()),
            AnyEvent::Machine(_) => None,
        }
    }

    /// When it happened, unix seconds.
    pub fn timestamp(&self) -> i64 {
        match self {
            AnyEvent::Lifecycle(e) => e.timestamp(),
            AnyEvent::Machine(m) => m.timestamp(),
        }
    }

    /// The NATS subject it is published on.
    pub fn subject(&self) -> Result<String, Error> {
        match self {
            AnyEvent::Lifecycle(e) => e.subject(),
            AnyEvent::Machine(m) => Ok(m.subject()),
        }
    }

    /// The machine event, if it is one.
    pub fn as_machine(&self) -> Option<&MachineEvent> {
        match self {
            AnyEvent::Machine(m) => Some(m),
            AnyEvent::Lifecycle(_) => None,
        }
    }

    /// The lifecycle event, if it is one.
    pub fn as_lifecycle(&self) -> Option<&Event> {
        match self {
            AnyEvent::Lifecycle(e) => Some(e),
            AnyEvent::Machine(_) => None,
        }
    }
}

/// Choria's display line.
impl fmt::Display for AnyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyEvent::Lifecycle(e) => e.fmt(f),
            AnyEvent::Machine(m) => m.fmt(f),
        }
    }
}

/// The event written back in the format it arrived in; a CloudEvent keeps its received
/// attributes, order and extensions.
impl Serialize for Parsed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.format, &self.envelope) {
            (Format::Choria, _) => self.event.serialize(serializer),
            // Only a lifecycle event's envelope is ever dropped (`parse::is_canonical`): a
            // machine CloudEvent's id is its own, so it keeps its envelope.
            (Format::CloudEvents, None) => match &self.event {
                AnyEvent::Lifecycle(event) => event.cloudevent().serialize(serializer),
                AnyEvent::Machine(event) => event.serialize(serializer),
            },
            (Format::CloudEvents, Some(envelope)) => {
                let mut map = serializer.serialize_map(None)?;
                let (before, after) = envelope
                    .attributes
                    .split_at(envelope.data_at.min(envelope.attributes.len()));
                extra(&mut map, before)?;
                match envelope.data_form {
                    DataForm::Json => map.serialize_entry("data", &self.event)?,
                    DataForm::Text => {
                        let json = self.event.to_json();
                        map.serialize_entry("data", &*String::from_utf8_lossy(&json))?;
                    }
                    DataForm::Base64 => {
                        let json = self.event.to_json();
                        let encoded = base64::encode(&json);
                        map.serialize_entry("data_base64", &encoded)?;
                    }
                }
                extra(&mut map, after)?;
                map.end()
            }
        }
    }
}

impl Parsed {
    /// The bytes in the format it arrived in.
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Event, EventType, parse};

    /// An alive event with any identity: the builder refuses control characters, which
    /// events from the wire may hold.
    fn alive(identity: &str) -> Event {
        let mut event = Event::builder(EventType::Alive)
            .id("6b0b2a6e-1f0e-4c1a-9d2e-000000000007")
            .identity("node1.example.net")
            .component("server")
            .version("0.29.4")
            .timestamp(1_700_000_000)
            .build()
            .unwrap();
        event.identity = identity.into();
        event
    }

    /// The bytes Go's `json.Marshal` writes for each string, as Choria JSON.
    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let cases = [
            ("node1.example.net", "node1.example.net"),
            (
                "<script>&</script>",
                r"\u003cscript\u003e\u0026\u003c/script\u003e",
            ),
            ("a\u{2028}b\u{2029}c", r"a\u2028b\u2029c"),
            (
                "quote\" backslash\\ slash/",
                r#"quote\" backslash\\ slash/"#,
            ),
            ("\n\r\t", r"\n\r\t"),
            // Go 1.22 and later, like serde_json; Go 1.21 and earlier wrote \u0008, \u000c.
            ("\u{8}\u{c}", r"\b\f"),
            ("\u{0}\u{1}\u{1b}\u{1f}", r"\u0000\u0001\u001b\u001f"),
            ("\u{7f}é😀\u{2027}\u{202a}", "\u{7f}é😀\u{2027}\u{202a}"),
        ];
        for (identity, escaped) in cases {
            let json = String::from_utf8(alive(identity).to_json()).unwrap();
            let expected = format!(
                r#"{{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"{escaped}","component":"server","timestamp":1700000000,"version":"0.29.4"}}"#
            );
            assert_eq!(json, expected, "{identity:?}");
            assert_eq!(parse(json.as_bytes()).unwrap().event().identity(), identity);
        }
    }

    #[test]
    fn cloudevents_are_escaped_as_go_escapes_them() {
        let event = alive(" <a&b>\u{2028} ");
        let json = String::from_utf8(event.cloudevent().to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"specversion":"1.0","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","source":"io.choria.lifecycle","type":"io.choria.lifecycle.v1.alive","subject":"\u003ca\u0026b\u003e","datacontenttype":"application/json","time":"2023-11-14T22:13:20Z","data":{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":" \u003ca\u0026b\u003e\u2028 ","component":"server","timestamp":1700000000,"version":"0.29.4"}}"#
        );
        assert_eq!(parse(json.as_bytes()).unwrap().to_json(), json.as_bytes());
    }

    /// Members kept as received are written as received; what we decode is written as Go
    /// writes it.
    #[test]
    fn received_members_are_written_raw_and_fields_escaped() {
        let input = r#"{"specversion":"1.0","id":"<1>","source":"io.choria.lifecycle","type":"t","comexample":"<raw>\u2028","data":{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"<n>","component":"server","timestamp":1700000000,"version":"0.29.4","extra":"a&b"}}"#;
        let written = String::from_utf8(parse(input.as_bytes()).unwrap().to_json()).unwrap();
        assert_eq!(
            written,
            r#"{"specversion":"1.0","id":"<1>","source":"io.choria.lifecycle","type":"t","comexample":"<raw>\u2028","data":{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"\u003cn\u003e","component":"server","timestamp":1700000000,"version":"0.29.4","extra":"a&b"}}"#
        );
    }

    /// A time RFC 3339 cannot write (a year past 9999) is left out, and such a CloudEvent
    /// reads back as the same event and writes back the same.
    #[test]
    fn a_time_rfc3339_cannot_write_is_left_out() {
        let event = Event::builder(EventType::Alive)
            .id("1")
            .identity("n")
            .component("c")
            .version("v")
            .timestamp(253_402_300_800)
            .build()
            .unwrap();
        let json = event.cloudevent().to_json();
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            r#"{"specversion":"1.0","id":"1","source":"io.choria.lifecycle","type":"io.choria.lifecycle.v1.alive","subject":"n","datacontenttype":"application/json","data":{"protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n","component":"c","timestamp":253402300800,"version":"v"}}"#
        );
        let parsed = parse(&json).unwrap();
        assert_eq!(parsed.event().as_lifecycle(), Some(&event));
        assert_eq!(parsed.to_json(), json);
    }

    #[test]
    fn may_need_escape_finds_each_byte_anywhere() {
        for len in 0..24 {
            assert!(!super::may_need_escape(&vec![b'a'; len]));
            for at in 0..len {
                for special in [b'<', b'>', b'&', 0xE2] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert!(super::may_need_escape(&bytes), "{len} {at} {special}");
                }
                // Neighbours of the special bytes are not special.
                for plain in [b'=', b'?', b'%', b'\'', 0xE1, 0xE3, 0x80, 0xFF] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = plain;
                    assert!(!super::may_need_escape(&bytes), "{len} {at} {plain}");
                }
            }
        }
    }

    /// Keys go through the same escaping.
    #[test]
    fn keys_are_escaped_too() {
        let input = r#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"1","identity":"n","component":"c","timestamp":1,"a<b":1}"#;
        let written = String::from_utf8(parse(input.as_bytes()).unwrap().to_json()).unwrap();
        assert_eq!(
            written,
            r#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"1","identity":"n","component":"c","timestamp":1,"a\u003cb":1}"#
        );
    }
}
