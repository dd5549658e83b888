//! The general JSON reader: an event object in any layout.
//!
//! An object's members are kept in order, each name and value as JSON text borrowed from the
//! input, each known key's place noted (a repeated key keeps its last value, as Go's
//! encoding/json does), so nothing received is lost. A member is decoded only when asked
//! for: most are plain strings, borrowed as they are.
//!
//! Two readers fill in [`Fields`]: ours (`scan.rs`), one pass over the text, and serde_json,
//! the reference. Ours gives up on whatever is not plainly valid (bad syntax, nesting too
//! deep) and serde_json then reads it and words the error, so both always give the same
//! result: the differential tests and the fuzz target compare them.
//!
//! Two of Go's rules serde_json does not have are kept here. A string with a lone UTF-16
//! surrogate escape (`"\ud800"`) reads as U+FFFD, as Go reads it: serde_json refuses it in a
//! `str`, so strings with escapes are decoded as bytes (serde_json then keeps the surrogate
//! as WTF-8) and each lone surrogate replaced. And nesting deeper than [`MAX_DEPTH`] is
//! refused: serde_json skips a raw value without a recursion limit.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use compact_str::CompactString;
use serde_core::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind};
use crate::event::Extra;

macro_rules! keys {
    ($($key:ident = $name:literal),* $(,)?) => {
        /// Every member name the event formats define: Choria's fields and CloudEvents'
        /// attributes.
        pub const MEMBER_NAMES: &[&str] = &[$($name),*];

        /// Every member name the event formats define.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Key { $($key),* }

        impl Key {
            pub(crate) const ALL: &'static [Key] = &[$(Key::$key),*];

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
    DataContentType = "datacontenttype", DataSchema = "dataschema", Time = "time",
    Data = "data", DataBase64 = "data_base64",
}

const SLOTS: usize = Key::ALL.len();

/// A set of known keys, a bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Keys(u32);

const _: () = assert!(SLOTS <= 32, "a key more than `Keys` holds");

impl Keys {
    pub(crate) const fn of(keys: &[Key]) -> Keys {
        let mut bits = 0;
        let mut i = 0;
        while i < keys.len() {
            bits |= 1 << keys[i] as u32;
            i += 1;
        }
        Keys(bits)
    }

    pub(crate) const fn and(self, other: Keys) -> Keys {
        Keys(self.0 | other.0)
    }

    pub(crate) fn contains(self, key: Key) -> bool {
        self.0 & 1 << key as u32 != 0
    }

    fn is_subset(self, of: Keys) -> bool {
        self.0 & !of.0 == 0
    }

    fn len(self) -> usize {
        self.0.count_ones() as usize
    }
}

/// Nesting deeper than this is refused, the top-level object counting as one level, so that
/// whatever reads a kept member later (a filter, a `serde_json::Value`) meets no deeper input
/// than serde_json's own recursion limit.
pub(crate) const MAX_DEPTH: usize = 128;

/// What a value is, as far as events care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

impl Kind {
    /// The kind of the JSON value `raw` starts (serde_json has checked it is one).
    #[inline]
    fn of(raw: &str) -> Kind {
        match raw.as_bytes().first() {
            Some(b'"') => Kind::String,
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// The JSON type, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
            Kind::Object => "an object",
            Kind::Array => "an array",
        }
    }
}

/// Which reader reads an object: ours (`scan.rs`), or serde_json, the reference ours is
/// tested against and the one that words every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    /// Ours, falling back on serde_json for whatever it does not read itself.
    Scan,
    /// serde_json alone.
    SerdeJson,
}

/// One member: its place among the object's members and its value's JSON text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pos: u32,
    raw: &'a str,
    escaped: bool,
}

/// How many members a [`Fields`] holds without allocating: as many as any event has.
const INLINE: usize = 12;

/// The members of one JSON object, in input order, with where each known key's value is.
#[derive(Clone)]
pub(crate) struct Fields<'a> {
    /// The text the members are in.
    text: &'a str,
    /// Every member as received, a repeated key each time: the first [`INLINE`] here, as
    /// an allocation would cost as much as reading a whole event...
    inline: [Entry; INLINE],
    /// ...and all of them here once there are more.
    spilled: Vec<Entry>,
    len: usize,
    /// Where each known key's last member is, plus one; 0 when absent.
    slots: [u32; SLOTS],
    /// The known keys present.
    present: Keys,
    /// How many members have a name no event format defines.
    unknown: u32,
}

/// A member as read: where its name (quotes included) and its value are in the text,
/// escapes undecoded. Offsets rather than `&str`, to keep [`Fields`] small.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Entry {
    pub(crate) name: Span,
    pub(crate) value: Span,
    pub(crate) key: Option<Key>,
    pub(crate) name_escaped: bool,
    /// Whether the value is a string holding an escape.
    pub(crate) value_escaped: bool,
}

/// Where something is in a text of at most [`crate::MAX_EVENT_BYTES`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        // Every text read is checked to be at most `MAX_EVENT_BYTES` long (`read_text`).
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
}

/// One JSON object and, when it has a `data` member holding an object, that object's
/// members: a CloudEvent's event, read in the same pass as its envelope.
pub(crate) struct Document<'a> {
    pub(crate) top: Fields<'a>,
    /// The last `data` member's object and that member's position, when read with the
    /// envelope.
    pub(crate) data: Option<(u32, Fields<'a>)>,
}

impl<'a> Document<'a> {
    pub(crate) fn new(text: &'a str) -> Document<'a> {
        Document {
            top: Fields::new(text),
            data: None,
        }
    }

    /// The members of the object `member`, a member of the top object.
    pub(crate) fn object(
        &self,
        member: Member<'a>,
        reader: Reader,
    ) -> Result<Cow<'_, Fields<'a>>, Error> {
        match &self.data {
            Some((pos, data)) if *pos == member.pos => Ok(Cow::Borrowed(data)),
            _ => Fields::read(member.raw(), reader).map(Cow::Owned),
        }
    }
}

impl<'a> Fields<'a> {
    /// No members yet, of an object in `text`.
    pub(crate) fn new(text: &'a str) -> Fields<'a> {
        Fields {
            text,
            inline: [Entry::default(); INLINE],
            spilled: Vec::new(),
            len: 0,
            slots: [0; SLOTS],
            present: Keys(0),
            unknown: 0,
        }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    #[inline]
    pub(crate) fn push(&mut self, entry: Entry) {
        if self.len < INLINE {
            self.inline[self.len] = entry;
        } else {
            if self.len == INLINE {
                self.spilled = self.inline.to_vec();
            }
            self.spilled.push(entry);
        }
        self.len += 1;
        let at = u32::try_from(self.len).unwrap_or(u32::MAX);
        match entry.key {
            // A repeated key keeps its last value, as Go's encoding/json does.
            Some(key) => {
                self.slots[key as usize] = at;
                self.present = self.present.and(Keys::of(&[key]));
            }
            None => self.unknown = self.unknown.saturating_add(1),
        }
    }

    #[inline]
    fn members(&self) -> &[Entry] {
        match self.inline.get(..self.len) {
            Some(inline) => inline,
            None => &self.spilled,
        }
    }

    #[inline]
    fn slice(&self, span: Span) -> &'a str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    #[inline]
    pub(crate) fn get(&self, key: Key) -> Option<Member<'a>> {
        let pos = self.position(key)?;
        let entry = self.members().get(pos as usize)?;
        Some(Member {
            pos,
            raw: self.slice(entry.value),
            escaped: entry.value_escaped,
        })
    }

    #[inline]
    pub(crate) fn position(&self, key: Key) -> Option<u32> {
        self.slots[key as usize].checked_sub(1)
    }

    /// How many members the object held, repeated ones included.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn has_unknown(&self) -> bool {
        self.unknown > 0
    }

    /// The known keys the object holds.
    pub(crate) fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        Key::ALL
            .iter()
            .copied()
            .filter(|&key| self.present.contains(key))
    }

    /// Whether every member has one of `keys`, none repeated.
    pub(crate) fn has_only(&self, keys: Keys) -> bool {
        self.unknown == 0 && self.len == self.present.len() && self.present.is_subset(keys)
    }

    /// Whether every known key present is one of `keys`.
    pub(crate) fn knows_only(&self, keys: Keys) -> bool {
        self.present.is_subset(keys)
    }

    /// The name of a member, decoded.
    fn name(&self, entry: &Entry) -> Cow<'a, str> {
        decode(self.slice(entry.name), entry.name_escaped).unwrap_or_default()
    }

    /// The names of the members no event format defines, in input order, decoded.
    pub(crate) fn unknown_names(&self) -> impl Iterator<Item = Cow<'a, str>> + '_ {
        self.members()
            .iter()
            .filter(|entry| entry.key.is_none())
            .map(|entry| self.name(entry))
    }

    /// The members that count, with their positions: every unknown one, and the last of each
    /// known key.
    fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.members().iter().enumerate().filter(|(i, entry)| {
            entry
                .key
                .is_none_or(|key| self.position(key) == u32::try_from(*i).ok())
        })
    }

    /// How many members other than `excluded` came before position `pos`.
    pub(crate) fn count_before(&self, pos: u32, excluded: Keys) -> usize {
        self.live()
            .take_while(|&(i, _)| (i as u64) < u64::from(pos))
            .filter(|(_, entry)| entry.key.is_none_or(|key| !excluded.contains(key)))
            .count()
    }

    /// Every member except `defined`, in input order and owned: what a type keeps as extra.
    /// Values are kept exactly as received.
    pub(crate) fn rest(&self, defined: Keys) -> Extra {
        if self.has_only(defined) {
            return Vec::new(); // the common case: nothing but the type's own keys was sent
        }
        self.live()
            .filter(|(_, entry)| entry.key.is_none_or(|key| !defined.contains(key)))
            .map(|(_, entry)| {
                let name = CompactString::from(self.name(entry));
                (name, owned(self.slice(entry.value)))
            })
            .collect()
    }
}

/// A member as text: name, whether escaped, key, value, whether escaped.
#[cfg(test)]
pub(crate) type Contents<'a> = (&'a str, bool, Option<Key>, &'a str, bool);

#[cfg(test)]
impl<'a> Fields<'a> {
    /// What the object holds, wherever its text is, to compare two readers: its members,
    /// where each known key is and which are present, how many are unknown.
    pub(crate) fn contents(&self) -> (Vec<Contents<'a>>, [u32; SLOTS], Keys, u32) {
        let members = self
            .members()
            .iter()
            .map(|entry| {
                let (name, value) = (self.slice(entry.name), self.slice(entry.value));
                (
                    name,
                    entry.name_escaped,
                    entry.key,
                    value,
                    entry.value_escaped,
                )
            })
            .collect();
        (members, self.slots, self.present, self.unknown)
    }
}

impl Key {
    /// The known keys whose name starts with `letter`.
    pub(crate) fn starting(letter: u8) -> &'static [Key] {
        use Key::*;
        match letter {
            b'c' => &[Component, Command],
            b'd' => &[Data, DataContentType, DataSchema, DataBase64],
            b'e' => &[EventType],
            b'f' => &[FromState],
            b'g' => &[Governor],
            b'i' => &[Id, Identity],
            b'm' => &[Machine],
            b'n' => &[NewVersion, Name],
            b'p' => &[Protocol, PreviousOutcome, PreviousRunTime],
            b's' => &[SpecVersion, Source, Subject, Sequence],
            b't' => &[Timestamp, Type, Time, Transition, ToState],
            b'v' => &[Version],
            _ => &[],
        }
    }

    /// The known key a member name (quotes included) spells, if any.
    #[inline]
    pub(crate) fn of_name(raw: &str, escaped: bool) -> Option<Key> {
        if escaped {
            // Rare: a known name holds no escape, but one may be spelt with them.
            Key::from_name(&decode(raw, true)?)
        } else {
            Key::from_name(raw.get(1..raw.len().saturating_sub(1))?)
        }
    }
}

/// The JSON value at the start of `text`, after any white space, and where it ends.
pub(crate) fn raw_value(text: &str) -> Option<(&RawValue, usize)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = <&RawValue as serde_core::Deserialize>::deserialize(&mut de).ok()?;
    Some((value, offset_in(text, value.get()) + value.get().len()))
}

/// A JSON value read before, owned. It has been read whole: reading it again cannot fail;
/// were it to, its text as a string is the best there is.
pub(crate) fn owned(raw: &str) -> Box<RawValue> {
    RawValue::from_string(raw.to_owned()).unwrap_or_else(|_| {
        serde_json::value::to_raw_value(raw).unwrap_or_else(|_| RawValue::NULL.to_owned())
    })
}

impl<'a> Member<'a> {
    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        Kind::of(self.raw())
    }

    /// Its place among the object's members.
    pub(crate) fn pos(&self) -> u32 {
        self.pos
    }

    /// The value's JSON text.
    pub(crate) fn raw(&self) -> &'a str {
        self.raw
    }

    /// The content of a string, decoded; `None` when the member is not a string.
    #[inline]
    pub(crate) fn str(&self) -> Option<Cow<'a, str>> {
        decode(self.raw, self.escaped)
    }
}

/// The content of the JSON string `raw` (quotes included) that has been read, `escaped`
/// when it holds escapes; `None` when `raw` is not a string. Borrowed unless escaped.
#[inline]
pub(crate) fn decode(raw: &str, escaped: bool) -> Option<Cow<'_, str>> {
    let content = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !escaped {
        return Some(Cow::Borrowed(content));
    }
    Some(Cow::Owned(unescape(raw, content)))
}

/// The content of a string holding escapes.
#[cold]
fn unescape(raw: &str, content: &str) -> String {
    // As bytes, where serde_json keeps a lone surrogate escape rather than fail on it.
    // It has read this string once: decoding it again cannot fail; were it to, the
    // undecoded content is the best there is.
    let mut de = serde_json::Deserializer::from_str(raw);
    de.deserialize_bytes(BytesVisitor)
        .unwrap_or_else(|_| content.to_owned())
}

/// A string member; null or absent reads as empty, as Go's zero value.
#[inline]
pub(crate) fn text<'a>(member: Option<Member<'a>>, field: &str) -> Result<Cow<'a, str>, Error> {
    match member {
        None => Ok(Cow::Borrowed("")),
        Some(m) => match m.kind() {
            Kind::Null => Ok(Cow::Borrowed("")),
            Kind::String => Ok(m.str().unwrap_or_default()),
            kind => Err(Error::wrong_type(field, "a string", kind.name())),
        },
    }
}

/// A string member, owned.
pub(crate) fn string(member: Option<Member<'_>>, field: &str) -> Result<String, Error> {
    text(member, field).map(Cow::into_owned)
}

/// A string member stored inline when short.
#[inline]
pub(crate) fn compact(member: Option<Member<'_>>, field: &str) -> Result<CompactString, Error> {
    text(member, field).map(|s| CompactString::from(&*s))
}

/// An integer member; null or absent reads as 0.
#[inline]
fn integer<T: FromStr + Default>(
    member: Option<Member<'_>>,
    field: &str,
    unsigned: bool,
) -> Result<T, Error> {
    let Some(member) = member else {
        return Ok(T::default());
    };
    match member.kind() {
        // JSON's grammar, already checked, leaves the parse to fail only on a fraction, an
        // exponent, a sign or the range, which `not_an_integer` tells apart.
        Kind::Number => member
            .raw()
            .parse()
            .map_err(|_| not_an_integer(member.raw(), field, unsigned)),
        Kind::Null => Ok(T::default()),
        kind => Err(Error::wrong_type(field, "an integer", kind.name())),
    }
}

/// Why the number `raw` does not read as a 64-bit integer, `unsigned` or not.
#[cold]
fn not_an_integer(raw: &str, field: &str, unsigned: bool) -> Error {
    if raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        Error::wrong_type(field, "an integer", "a number with a fraction or exponent")
    } else if !unsigned {
        Error::invalid(field, raw, "out of the range of a 64-bit integer")
    } else if raw.starts_with('-') {
        Error::invalid(field, raw, "must not be negative")
    } else {
        Error::invalid(field, raw, "out of the range of a 64-bit unsigned integer")
    }
}

/// A signed integer member; null or absent reads as 0.
#[inline]
pub(crate) fn int(member: Option<Member<'_>>, field: &str) -> Result<i64, Error> {
    integer(member, field, false)
}

/// An unsigned integer member; null or absent reads as 0.
#[inline]
pub(crate) fn uint(member: Option<Member<'_>>, field: &str) -> Result<u64, Error> {
    integer(member, field, true)
}

/// Reads `text`, which must hold one JSON object and nothing else, with serde_json.
pub(crate) fn read_with_serde_json(text: &str) -> Result<Fields<'_>, Error> {
    let start = text.trim_start_matches([' ', '\n', '\r', '\t']);
    if !start.starts_with('{') {
        return Err(not_an_object(text, start));
    }
    let mut too_deep = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let read = (&mut de)
        .deserialize_map(ObjectVisitor {
            source: text,
            too_deep: &mut too_deep,
        })
        .and_then(|fields| de.end().map(|()| fields));
    match (read, too_deep) {
        (_, Some(error)) => Err(error),
        (Ok(fields), None) => Ok(fields),
        (Err(error), None) => Err(syntax(text, &error)),
    }
}

/// Reads an object's members, names and values kept as their raw text.
struct ObjectVisitor<'s, 'a> {
    source: &'a str,
    /// Set when a value nests too deeply; serde_json then only hears that reading stopped.
    too_deep: &'s mut Option<Error>,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, 'de> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields::new(self.source);
        // Names are read raw too: serde_json then checks them as it checks any string,
        // and a lone surrogate escape in one reads as Go reads it.
        while let Some(name) = map.next_key::<&'de RawValue>()? {
            let name = name.get();
            let name_escaped = name.contains('\\');
            let value = map.next_value::<&'de RawValue>()?.get();
            let span = |part: &str| {
                let start = offset_in(self.source, part);
                Span::new(start, start + part.len())
            };
            // The object is the first level, so its members may nest one less.
            if let Some(at) = deeper_than(value, MAX_DEPTH - 1) {
                let at = offset_in(self.source, value) + at;
                *self.too_deep = Some(at_position(
                    self.source.as_bytes(),
                    at,
                    "nesting deeper than 128 levels",
                ));
                return Err(de::Error::custom("nesting too deep"));
            }
            fields.push(Entry {
                name: span(name),
                value: span(value),
                key: Key::of_name(name, name_escaped),
                name_escaped,
                value_escaped: Kind::of(value) == Kind::String && value.contains('\\'),
            });
        }
        Ok(fields)
    }
}

/// A string's decoded content.
struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<String, E> {
        Ok(from_wtf8(bytes))
    }
}

/// Text decoded by serde_json as bytes: UTF-8, except that a lone surrogate escape is there
/// as its three-byte WTF-8 form. Go's encoding/json reads each such escape as one U+FFFD.
fn from_wtf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                // A surrogate (U+D800..U+DFFF) is ED A0..BF xx: skip it whole.
                let skip = match after {
                    [0xED, 0xA0..=0xBF, 0x80..=0xBF, ..] => 3,
                    _ => error.error_len().unwrap_or(after.len()).max(1),
                };
                rest = after.get(skip..).unwrap_or_default();
            }
        }
    }
}

/// Where, in a raw JSON value serde_json has read, an array or object opens beyond `allowed`
/// levels of nesting.
pub(crate) fn deeper_than(raw: &str, allowed: usize) -> Option<usize> {
    let bytes = raw.as_bytes();
    // Each level takes two bytes at least: shorter values cannot be too deep.
    if bytes.len() <= 2 * allowed {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > allowed {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Where `part`, a slice of `whole`, starts in it.
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// The error for valid JSON that is not an object, or for invalid JSON.
fn not_an_object(text: &str, start: &str) -> Error {
    if let Err(error) = serde_json::from_str::<IgnoredAny>(text) {
        return syntax(text, &error);
    }
    if let Some(at) = deeper_than(start, MAX_DEPTH) {
        let at = offset_in(text, start) + at;
        return at_position(text.as_bytes(), at, "nesting deeper than 128 levels");
    }
    Error::new(ErrorKind::NotAnObject(Kind::of(start).name()))
}

/// A serde_json syntax error in our words, at the byte it is about.
///
/// serde_json counts the column of the last byte it read; we point at the start of what is
/// wrong (the literal, the escape) or, at the end of the input, just past it.
fn syntax(text: &str, error: &serde_json::Error) -> Error {
    let full = error.to_string();
    let what = full
        .strip_suffix(&format!(
            " at line {} column {}",
            error.line(),
            error.column()
        ))
        .unwrap_or(&full);
    let bytes = text.as_bytes();
    let read = read_position(bytes, error.line(), error.column());
    let back_to = |stop: fn(u8) -> bool| {
        bytes
            .get(..read)
            .and_then(|before| before.iter().rposition(|&b| stop(b)))
    };
    let (problem, at) = match what {
        _ if error.is_eof() => (
            if what.starts_with("EOF while parsing a string") {
                "unterminated string"
            } else {
                "unexpected end of input"
            },
            bytes.len(),
        ),
        "expected ident" => (
            "invalid literal",
            back_to(|b| !b.is_ascii_alphabetic()).map_or(0, |i| i + 1),
        ),
        "invalid escape" => (
            "invalid escape in string",
            back_to(|b| b == b'\\').unwrap_or(read),
        ),
        "expected value" => ("expected a JSON value", read),
        "expected `:`" => ("expected ':' after an object key", read),
        "expected `,` or `}`" => ("expected ',' or '}' in an object", read),
        "expected `,` or `]`" => ("expected ',' or ']' in an array", read),
        "key must be a string" => ("expected a string key", read),
        "trailing characters" => ("trailing characters after the JSON value", read),
        "invalid number" => ("invalid number", read),
        "recursion limit exceeded" => ("nesting deeper than 128 levels", read),
        _ if what.starts_with("control character") => ("control character in string", read),
        _ => return Error::invalid_json(full),
    };
    at_position(bytes, at, problem)
}

/// The byte offset serde_json's (line, column) names: the last byte it read, 1-based within
/// its line, column 0 being the newline that ended the line before.
fn read_position(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(i, _)| i + 1)
    };
    (line_start + column).saturating_sub(1).min(bytes.len())
}

/// An invalid-JSON error naming `problem` at byte `at`, as 1-based line and column.
pub(crate) fn at_position(bytes: &[u8], at: usize, problem: &str) -> Error {
    let before = bytes.get(..at).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    Error::invalid_json(format!("{problem} at line {line} column {column}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_read_as_go_reads_them() {
        let decode = |json: &str| {
            let raw: &RawValue = serde_json::from_str(json).unwrap();
            decode(raw.get(), raw.get().contains('\\'))
                .unwrap()
                .into_owned()
        };
        assert_eq!(decode(r#""a\"b\\c\/d\te\u00e9""#), "a\"b\\c/d\te\u{e9}");
        assert_eq!(decode(r#""\ud83d\ude00""#), "\u{1F600}");
        assert_eq!(decode(r#""node1\ud800""#), "node1\u{FFFD}");
        assert_eq!(decode(r#""\udc00x""#), "\u{FFFD}x");
        assert_eq!(decode(r#""\ud800\ud800\udc00""#), "\u{FFFD}\u{10000}");
        assert_eq!(decode(r#""\ud800\n""#), "\u{FFFD}\n");
        assert_eq!(decode(r#""\udbff\udfff\udfff""#), "\u{10FFFF}\u{FFFD}");
        assert_eq!(decode(r#""plain""#), "plain");
    }

    #[test]
    fn every_key_is_found_by_its_first_letter() {
        for &key in Key::ALL {
            let name = key.name();
            assert!(Key::starting(name.as_bytes()[0]).contains(&key), "{name}");
            assert_eq!(Key::of_name(&format!("\"{name}\""), false), Some(key));
        }
        let listed: usize = (0..=u8::MAX).map(|b| Key::starting(b).len()).sum();
        assert_eq!(listed, Key::ALL.len(), "each key listed once");
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(deeper_than(&nested(127), 127), None);
        assert_eq!(deeper_than(&nested(128), 127), Some(127));
        assert_eq!(deeper_than(&format!("[\"{}\"]", "[".repeat(300)), 2), None);
        assert_eq!(
            deeper_than(&format!("[\"\\\"{}\"]", "[".repeat(300)), 2),
            None
        );
    }

    #[test]
    fn positions_are_lines_and_columns() {
        let message = |bytes: &[u8], at| at_position(bytes, at, "x").to_string();
        assert_eq!(
            message(b"{\n  \"a\": x", 9),
            "not valid JSON: x at line 2 column 8"
        );
        assert_eq!(message(b"abc", 0), "not valid JSON: x at line 1 column 1");
        assert_eq!(read_position(b"{\n  \"id\": tru\n}", 3, 0), 13);
        assert_eq!(read_position(b"not json", 1, 2), 1);
    }
}
