//! The members of an event object, found in one pass and decoded only when asked for.
//!
//! Known keys land in fixed slots; unknown members are kept as raw JSON, so nothing received
//! is lost. A CloudEvent's `data` object is read in the same pass, into its own [`Fields`].

use std::borrow::Cow;

use compact_str::CompactString;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind};
use crate::event::Extra;
use crate::scan::{self, Kind, Reader, SyntaxError};

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

/// Where one member's value lies, compact so that a whole object's slots stay small.
#[derive(Debug, Clone, Copy)]
struct Slot {
    pos: u32,
    value: scan::Value,
}

/// One member's value, resolved against the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pos: u32,
    kind: Kind,
    /// The value's whole JSON text, quotes included.
    raw: &'a str,
}

/// The members of one JSON object, by position.
pub(crate) struct Fields<'a> {
    source: &'a str,
    slots: [Option<Slot>; SLOTS],
    unknown: Vec<(Cow<'a, str>, Slot)>,
    len: u32,
}

/// A top-level object and, when it holds a `data` object, that object's members.
pub(crate) struct Document<'a> {
    pub(crate) top: Fields<'a>,
    pub(crate) data: Option<Fields<'a>>,
}

impl<'a> Document<'a> {
    /// Reads `bytes`, which must hold one JSON object and nothing else.
    pub(crate) fn read(bytes: &'a [u8]) -> Result<Document<'a>, Error> {
        let syntax = |at: usize, problem: &str| {
            let (line, column) = scan::line_column(bytes, at);
            Error::invalid_json(format!("{problem} at line {line} column {column}"))
        };
        // One check of the whole input lets every string be sliced without another.
        let text =
            std::str::from_utf8(bytes).map_err(|e| syntax(e.valid_up_to(), "invalid UTF-8"))?;
        let mut reader = Reader::new(text);
        let syntax = |e: SyntaxError| syntax(e.at, e.problem);
        match reader.peek() {
            Some(b'{') => {}
            _ => {
                let value = reader.value().and_then(|v| reader.end().map(|()| v));
                return Err(match value {
                    Ok(value) => Error::new(ErrorKind::NotAnObject(value.kind.name())),
                    Err(e) => syntax(e),
                });
            }
        }
        let mut data = None;
        let top = Fields::read(text, &mut reader, Some(&mut data)).map_err(syntax)?;
        reader.end().map_err(syntax)?;
        Ok(Document { top, data })
    }
}

impl<'a> Fields<'a> {
    /// Reads the object the reader is on; when `data` is given, a `data` member that is an
    /// object is read into it as well.
    fn read(
        source: &'a str,
        reader: &mut Reader<'a>,
        mut data: Option<&mut Option<Fields<'a>>>,
    ) -> scan::Result<Self> {
        let mut fields = Fields {
            source,
            slots: [None; SLOTS],
            unknown: Vec::new(),
            len: 0,
        };
        reader.object(|reader, key, escaped| {
            let name: Cow<'a, str> = if escaped {
                Cow::Owned(scan::unescape(key))
            } else {
                Cow::Borrowed(key)
            };
            let known = Key::from_name(&name);
            let value = match (known, data.as_deref_mut(), reader.peek()) {
                (Some(Key::Data), Some(slot), Some(b'{')) => {
                    let start = reader.position();
                    *slot = Some(Fields::read(source, reader, None)?);
                    reader.value_since(start, Kind::Object)
                }
                _ => reader.value()?,
            };
            let slot = Slot {
                pos: fields.len,
                value,
            };
            fields.len = fields.len.saturating_add(1);
            match known {
                // A repeated key keeps its last value, as Go's encoding/json does.
                Some(key) => fields.slots[key as usize] = Some(slot),
                None => fields.unknown.push((name, slot)),
            }
            Ok(())
        })?;
        Ok(fields)
    }

    fn member(&self, slot: Slot) -> Member<'a> {
        Member {
            pos: slot.pos,
            kind: slot.value.kind,
            raw: &self.source[slot.value.start as usize..slot.value.end as usize],
        }
    }

    pub(crate) fn get(&self, key: Key) -> Option<Member<'a>> {
        self.slots[key as usize].map(|slot| self.member(slot))
    }

    pub(crate) fn position(&self, key: Key) -> Option<u32> {
        self.slots[key as usize].map(|slot| slot.pos)
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
        known
            + self
                .unknown
                .iter()
                .filter(|(_, slot)| slot.pos < pos)
                .count()
    }

    /// Every member except `defined`, in input order and owned: what a type keeps as extra.
    pub(crate) fn rest(&self, defined: &[Key]) -> Extra {
        let mut rest: Vec<(&str, Member<'a>)> = Key::ALL
            .iter()
            .filter(|key| !defined.contains(key))
            .filter_map(|&key| self.get(key).map(|m| (key.name(), m)))
            .chain(
                self.unknown
                    .iter()
                    .map(|(k, slot)| (&**k, self.member(*slot))),
            )
            .collect();
        rest.sort_unstable_by_key(|(_, m)| m.pos);
        rest.into_iter()
            .map(|(key, member)| (key.to_owned(), member.to_raw()))
            .collect()
    }
}

impl<'a> Member<'a> {
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn raw(&self) -> &'a str {
        self.raw
    }

    /// A string's content between its quotes, still escaped.
    fn text(&self) -> &'a str {
        match self.kind {
            Kind::String { .. } => &self.raw[1..self.raw.len() - 1],
            _ => self.raw,
        }
    }

    /// The member as an owned raw JSON value.
    fn to_raw(self) -> Box<RawValue> {
        // serde_json refuses lone surrogate escapes, which we read as Go does (U+FFFD):
        // such a string is kept decoded rather than raw.
        RawValue::from_string(self.raw.to_owned()).unwrap_or_else(|_| {
            let decoded = serde_json::to_string(&scan::unescape(self.text()))
                .unwrap_or_else(|_| "null".to_owned());
            RawValue::from_string(decoded).unwrap_or_else(|_| null())
        })
    }

    /// The content of a string, decoded.
    fn str(&self) -> Option<Cow<'a, str>> {
        match self.kind {
            Kind::String { escaped: false } => Some(Cow::Borrowed(self.text())),
            Kind::String { escaped: true } => Some(Cow::Owned(scan::unescape(self.text()))),
            _ => None,
        }
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

/// A string member; null or absent reads as empty, as Go's zero value.
pub(crate) fn string(member: Option<Member<'_>>, field: &str) -> Result<String, Error> {
    match member {
        None => Ok(String::new()),
        Some(m) if m.kind == Kind::Null => Ok(String::new()),
        Some(m) => m
            .str()
            .map(Cow::into_owned)
            .ok_or_else(|| Error::wrong_type(field, "a string", m.kind.name())),
    }
}

/// A string member stored inline when short; null or absent reads as empty.
pub(crate) fn compact(member: Option<Member<'_>>, field: &str) -> Result<CompactString, Error> {
    match member {
        None => Ok(CompactString::default()),
        Some(m) if m.kind == Kind::Null => Ok(CompactString::default()),
        Some(m) => m
            .str()
            .map(|s| CompactString::from(&*s))
            .ok_or_else(|| Error::wrong_type(field, "a string", m.kind.name())),
    }
}

/// Whether a member is the JSON string `expected`.
pub(crate) fn str_eq(member: Option<Member<'_>>, expected: &str) -> bool {
    member
        .and_then(|m| m.str().map(|s| s == expected))
        .unwrap_or(false)
}

fn number<'a>(member: &Member<'a>, field: &str) -> Result<Option<&'a str>, Error> {
    match member.kind {
        Kind::Null => Ok(None),
        Kind::Number if member.raw.contains(['.', 'e', 'E']) => Err(Error::wrong_type(
            field,
            "an integer",
            "a number with a fraction or exponent",
        )),
        Kind::Number => Ok(Some(member.raw)),
        kind => Err(Error::wrong_type(field, "an integer", kind.name())),
    }
}

/// A signed integer member; null or absent reads as 0.
pub(crate) fn int(member: Option<Member<'_>>, field: &str) -> Result<i64, Error> {
    let Some(member) = member else { return Ok(0) };
    match number(&member, field)? {
        None => Ok(0),
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid(field, s, "out of the range of a 64-bit integer")),
    }
}

/// An unsigned integer member; null or absent reads as 0.
pub(crate) fn uint(member: Option<Member<'_>>, field: &str) -> Result<u64, Error> {
    let Some(member) = member else { return Ok(0) };
    match number(&member, field)? {
        None => Ok(0),
        Some(s) if s.starts_with('-') => Err(Error::invalid(field, s, "must not be negative")),
        Some(s) => s
            .parse()
            .map_err(|_| Error::invalid(field, s, "out of the range of a 64-bit unsigned integer")),
    }
}
