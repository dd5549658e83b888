//! One pass over a JSON object that keeps every member as a borrowed raw value.
//!
//! Known keys land in fixed slots; decoding then reads only what the event's type needs,
//! straight from the input bytes. Unknown members stay raw, so nothing received is lost.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::Error;
use crate::event::Extra;

macro_rules! keys {
    ($($key:ident = $name:literal),* $(,)?) => {
        /// Every member name the event formats define.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Key { $($key),* }

        impl Key {
            const ALL: &'static [Key] = &[$(Key::$key),*];

            fn from_name(name: &str) -> Option<Key> {
                match name { $($name => Some(Key::$key),)* _ => None }
            }

            pub(crate) fn name(self) -> &'static str {
                match self { $(Key::$key => $name),* }
            }
        }
    };
}

keys! {
    Protocol = "protocol", Id = "id", Identity = "identity", Component = "component",
    Timestamp = "timestamp", Version = "version", NewVersion = "new_version",
    Governor = "governor", Sequence = "sequence", EventType = "event_type",
    Machine = "machine", Transition = "transition", FromState = "from_state",
    ToState = "to_state", Type = "type", Name = "name", Command = "command",
    PreviousOutcome = "previous_outcome", PreviousRunTime = "previous_run_time",
    SpecVersion = "specversion", Source = "source", Subject = "subject",
    DataContentType = "datacontenttype", Time = "time", Data = "data",
    DataBase64 = "data_base64",
}

const SLOTS: usize = Key::ALL.len();

/// The members of one JSON object, by position.
pub(crate) struct Fields<'de> {
    slots: [Option<(u32, &'de RawValue)>; SLOTS],
    unknown: Vec<(u32, Cow<'de, str>, &'de RawValue)>,
    len: u32,
}

impl<'de> Fields<'de> {
    pub(crate) fn from_slice(bytes: &'de [u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(Error::json)
    }

    pub(crate) fn get(&self, key: Key) -> Option<&'de RawValue> {
        self.slots[key as usize].map(|(_, raw)| raw)
    }

    pub(crate) fn position(&self, key: Key) -> Option<u32> {
        self.slots[key as usize].map(|(pos, _)| pos)
    }

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    pub(crate) fn has_unknown(&self) -> bool {
        !self.unknown.is_empty()
    }

    /// How many members other than `excluded` came before position `pos`.
    pub(crate) fn count_before(&self, pos: u32, excluded: &[Key]) -> usize {
        let known = Key::ALL
            .iter()
            .filter(|key| !excluded.contains(key))
            .filter_map(|&key| self.position(key))
            .filter(|&p| p < pos)
            .count();
        known + self.unknown.iter().filter(|(p, ..)| *p < pos).count()
    }

    /// Every member except `defined`, in input order and owned: what a type keeps as extra.
    pub(crate) fn rest(&self, defined: &[Key]) -> Extra {
        let mut rest: Vec<(u32, &str, &RawValue)> = Key::ALL
            .iter()
            .filter(|key| !defined.contains(key))
            .filter_map(|&key| self.slots[key as usize].map(|(pos, raw)| (pos, key.name(), raw)))
            .chain(self.unknown.iter().map(|(pos, k, raw)| (*pos, &**k, *raw)))
            .collect();
        if rest.is_empty() {
            return Vec::new();
        }
        rest.sort_unstable_by_key(|(pos, ..)| *pos);
        rest.into_iter()
            .map(|(_, key, raw)| (key.to_owned(), raw.to_owned()))
            .collect()
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields {
            slots: [None; SLOTS],
            unknown: Vec::new(),
            len: 0,
        };
        while let Some(KeyName(name)) = map.next_key()? {
            let raw: &'de RawValue = map.next_value()?;
            let pos = fields.len;
            fields.len = fields.len.saturating_add(1);
            match Key::from_name(&name) {
                // A repeated key keeps its last value, as Go's encoding/json does.
                Some(key) => fields.slots[key as usize] = Some((pos, raw)),
                None => fields.unknown.push((pos, name, raw)),
            }
        }
        Ok(fields)
    }
}

/// An object key, borrowed from the input unless it holds escapes.
struct KeyName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyName(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The JSON type of a raw value, for error messages.
pub(crate) fn json_type(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The content of a JSON string value without copying when it has no escapes.
fn raw_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(s).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// A string member; null reads as empty, as Go's zero value.
pub(crate) fn string(raw: Option<&RawValue>, field: &str) -> Result<String, Error> {
    match raw {
        None => Ok(String::new()),
        Some(raw) if raw.get() == "null" => Ok(String::new()),
        Some(raw) => raw_str(raw)
            .map(Cow::into_owned)
            .ok_or_else(|| Error::wrong_type(field, "a string", json_type(raw.get()))),
    }
}

/// Whether a member is the JSON string `expected`.
pub(crate) fn str_eq(raw: Option<&RawValue>, expected: &str) -> bool {
    raw.and_then(raw_str).is_some_and(|s| s == expected)
}

fn number<'a>(raw: &'a RawValue, field: &str) -> Result<Option<&'a str>, Error> {
    let s = raw.get();
    match s.as_bytes().first() {
        Some(b'n') => Ok(None),
        Some(b'-' | b'0'..=b'9') if s.contains(['.', 'e', 'E']) => Err(Error::wrong_type(
            field,
            "an integer",
            "a number with a fraction or exponent",
        )),
        Some(b'-' | b'0'..=b'9') => Ok(Some(s)),
        _ => Err(Error::wrong_type(field, "an integer", json_type(s))),
    }
}

/// A signed integer member; null or absent reads as 0.
pub(crate) fn int(raw: Option<&RawValue>, field: &str) -> Result<i64, Error> {
    let Some(raw) = raw else { return Ok(0) };
    match number(raw, field)? {
        None => Ok(0),
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid(field, s, "out of the range of a 64-bit integer")),
    }
}

/// An unsigned integer member; null or absent reads as 0.
pub(crate) fn uint(raw: Option<&RawValue>, field: &str) -> Result<u64, Error> {
    let Some(raw) = raw else { return Ok(0) };
    match number(raw, field)? {
        None => Ok(0),
        Some(s) if s.starts_with('-') => Err(Error::invalid(field, s, "must not be negative")),
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid(field, s, "out of the range of a 64-bit unsigned integer")),
    }
}
