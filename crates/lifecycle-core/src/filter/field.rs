//! What a `.field` condition sees of an event, found without serialising the event: a known
//! field is read from the typed event, borrowed; an unknown member is read from the raw JSON
//! the event kept, and only the member (and, for `.a.b`, the nested member) the condition
//! names, parsed when the condition asks for it.
//!
//! A field has the value serde_json gives it in the event's Choria-format JSON (the last of
//! repeated members, numbers as `serde_json::Number`, objects and arrays as their compact
//! JSON text with keys sorted). A raw value serde_json cannot read has no such value; it is
//! never an error, and compares as:
//!
//! - a number beyond `f64` (`1e400`): as infinity of its sign against a number, as its JSON
//!   text (`1e400`) against anything else;
//! - a string with an escape serde_json refuses (a lone surrogate, `"\ud800"`): as its text
//!   between the quotes, escapes as written (`\ud800`);
//! - an object or array holding either: as its JSON text as received.
//!
//! `.a.b` reaches into `a` when it is an object, whatever else the object holds.

use std::borrow::Cow;
use std::fmt;

use serde_core::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use crate::event::{EventKind, Extra};
use crate::machine::{MachineEvent, TRANSITION_PROTOCOL};
use crate::parsed::AnyEvent;

/// The value of a field, as a condition compares it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Field<'e> {
    /// Absent, or `null`.
    Missing,
    /// A string, or the JSON text of an object, array or boolean.
    Text(Cow<'e, str>),
    /// A number serde_json reads.
    Number(Number),
    /// A number beyond `f64`, as written.
    HugeNumber(&'e str),
}

/// The field at `path` (one name per level) of `event`.
pub(super) fn lookup<'e>(event: &'e AnyEvent, path: &[String]) -> Field<'e> {
    let Some((name, inner)) = path.split_first() else {
        return Field::Missing;
    };
    // An unknown member comes after the known ones in the JSON, so of the same name it wins.
    let Some((_, raw)) = extra(event).iter().rev().find(|(key, _)| key == name) else {
        return match inner {
            [] => known(event, name).unwrap_or(Field::Missing),
            // Known fields are strings and numbers: nothing is inside them.
            _ => Field::Missing,
        };
    };
    let mut raw: &'e RawValue = raw;
    for name in inner {
        match member(raw, name) {
            Some(value) => raw = value,
            None => return Field::Missing,
        }
    }
    read(raw)
}

fn extra(event: &AnyEvent) -> &Extra {
    match event {
        AnyEvent::Lifecycle(e) => &e.extra,
        AnyEvent::Machine(m) => match &**m {
            MachineEvent::Transition(t) => &t.extra,
            MachineEvent::WatcherState(w) => &w.extra,
        },
    }
}

fn text(s: &str) -> Option<Field<'_>> {
    Some(Field::Text(Cow::Borrowed(s)))
}

fn number<'e>(n: impl Into<Number>) -> Option<Field<'e>> {
    Some(Field::Number(n.into()))
}

/// A field the event's type defines, by its name in Choria's JSON (as `json.rs` writes it).
fn known<'e>(event: &'e AnyEvent, name: &str) -> Option<Field<'e>> {
    match event {
        AnyEvent::Lifecycle(e) => match (name, e.kind()) {
            ("protocol", _) => text(e.protocol()),
            ("id", _) => text(e.id()),
            ("identity", _) => text(e.identity()),
            ("component", _) => text(e.component()),
            ("timestamp", _) => number(e.timestamp()),
            ("version", _) => e.version().and_then(text),
            ("new_version", _) => e.new_version().and_then(text),
            ("governor", EventKind::Governor { governor, .. }) => text(governor),
            ("sequence", EventKind::Governor { sequence, .. }) => number(*sequence),
            ("event_type", EventKind::Governor { event_type, .. }) => text(event_type.as_str()),
            _ => None,
        },
        AnyEvent::Machine(m) => match &**m {
            MachineEvent::Transition(t) => match name {
                "protocol" => text(TRANSITION_PROTOCOL),
                "identity" => text(&t.identity),
                "id" => text(&t.id),
                "version" => text(&t.version),
                "timestamp" => number(t.timestamp),
                "machine" => text(&t.machine),
                "transition" => text(&t.transition),
                "from_state" => text(&t.from_state),
                "to_state" => text(&t.to_state),
                _ => None,
            },
            MachineEvent::WatcherState(w) => match (name, &w.exec) {
                // The one known field that is not stored as it is written.
                ("protocol", _) => Some(Field::Text(Cow::Owned(w.protocol()))),
                ("identity", _) => text(&w.identity),
                ("id", _) => text(&w.id),
                ("version", _) => text(&w.version),
                ("timestamp", _) => number(w.timestamp),
                ("type", _) => text(&w.watcher_type),
                ("machine", _) => text(&w.machine),
                ("name", _) => text(&w.name),
                ("command", Some(exec)) => text(&exec.command),
                ("previous_outcome", Some(exec)) => text(&exec.previous_outcome),
                ("previous_run_time", Some(exec)) => number(exec.previous_run_time),
                _ => None,
            },
        },
    }
}

/// A raw value's JSON text, without the white space around it.
fn text_of(raw: &RawValue) -> &str {
    raw.get().trim_matches([' ', '\t', '\n', '\r'])
}

/// A raw value as a field.
fn read(raw: &RawValue) -> Field<'_> {
    let json = text_of(raw);
    match json.as_bytes().first() {
        Some(b'"') => {
            let between = json
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(json);
            if !between.contains('\\') {
                return Field::Text(Cow::Borrowed(between));
            }
            match serde_json::from_str::<String>(json) {
                Ok(decoded) => Field::Text(Cow::Owned(decoded)),
                Err(_) => Field::Text(Cow::Borrowed(between)),
            }
        }
        Some(b'-' | b'0'..=b'9') => match serde_json::from_str::<Number>(json) {
            Ok(n) => Field::Number(n),
            Err(_) => Field::HugeNumber(json),
        },
        Some(b'{' | b'[') => match serde_json::from_str::<Value>(json) {
            Ok(value) => Field::Text(Cow::Owned(value.to_string())),
            Err(_) => Field::Text(Cow::Borrowed(json)),
        },
        _ if json == "null" => Field::Missing,
        // true and false
        _ => Field::Text(Cow::Borrowed(json)),
    }
}

/// The member `name` of `object` (the last one, when repeated); none when `object` is not
/// an object or has no such member.
fn member<'e>(object: &'e RawValue, name: &str) -> Option<&'e RawValue> {
    let json = text_of(object);
    if !json.starts_with('{') {
        return None;
    }
    serde_json::Deserializer::from_str(json)
        .deserialize_map(MemberNamed(name))
        .ok()
        .flatten()
}

/// Walks an object's members, keeping the value of those named `.0` unparsed.
struct MemberNamed<'n>(&'n str);

impl<'de> Visitor<'de> for MemberNamed<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(KeyIs(self.0))? {
            if wanted {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a key is `.0`. Keys are read as bytes, which serde_json decodes without refusing
/// lone surrogates: such a key is never a field name, and the walk goes on past it.
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<bool, E> {
        Ok(key == self.0.as_bytes())
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}
