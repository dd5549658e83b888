//! Our JSON object reader: one pass over the text, any member order, white space and
//! unknown members, nothing built but the list of members.
//!
//! It accepts exactly what serde_json accepts (RFC 8259: strings without control characters
//! and with valid escapes, numbers without leading zeros, `true`, `false`, `null`), and
//! returns `None` at the first thing it does not accept, or that nests deeper than the
//! general reader allows: serde_json then reads the text again and says what is wrong.
//! Values are checked, not decoded: a string's escapes are noted and decoded when asked.

use compact_str::CompactString;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::reader::{self, Document, Entry, Fields, Key, MAX_DEPTH, Reader, Span};

impl<'a> Document<'a> {
    /// Reads `text`, which must hold one JSON object and nothing else: with ours, and with
    /// serde_json when ours gives up or is not asked. Filled in place: a document is too
    /// large to move around for free.
    pub(crate) fn read(&mut self, reader: Reader) -> Result<(), Error> {
        if reader == Reader::Scan && document(self).is_some() {
            return Ok(());
        }
        self.top = reader::read_with_serde_json(self.top.text())?;
        self.data = None;
        Ok(())
    }
}

impl<'a> Fields<'a> {
    /// Reads `text`, which must hold one JSON object and nothing else, as
    /// [`Document::read`] does.
    pub(crate) fn read(text: &'a str, reader: Reader) -> Result<Fields<'a>, Error> {
        if reader == Reader::Scan {
            let mut fields = Fields::new(text);
            if object(&mut fields).is_some() {
                return Ok(fields);
            }
        }
        reader::read_with_serde_json(text)
    }
}

/// One JSON object into `document.top`, and the members of its last `data` member into
/// `document.data` when that is an object.
pub(crate) fn document(document: &mut Document<'_>) -> Option<()> {
    let Document { top, data } = document;
    let mut scanner = Scanner {
        text: top.text(),
        at: 0,
    };
    scanner.space();
    // The object is the first level, so its members may nest one less.
    scanner.object(top, MAX_DEPTH - 1, Some(data))?;
    scanner.end()
}

/// One JSON object, the whole of `fields.text()`, into `fields`.
pub(crate) fn object(fields: &mut Fields<'_>) -> Option<()> {
    let mut scanner = Scanner {
        text: fields.text(),
        at: 0,
    };
    scanner.space();
    scanner.object(fields, MAX_DEPTH - 1, None)?;
    scanner.end()
}

/// A member no event format defines (a newer sender's field) in an event object otherwise
/// laid out as Go writes it: from any white space before its `,` through its value and any
/// after, and how long that is. `None` unless the general reader would keep it as it is: a
/// name no event format defines, a value nesting no deeper than inside a CloudEvent's
/// `data`.
pub(crate) fn unknown_member(text: &str) -> Option<(CompactString, Box<RawValue>, usize)> {
    let mut scanner = Scanner { text, at: 0 };
    scanner.space();
    scanner.eat(b',')?;
    scanner.space();
    let start = scanner.at;
    let escaped = scanner.string()?;
    let name = text.get(start..scanner.at)?;
    if Key::of_name(name, escaped).is_some() {
        return None;
    }
    scanner.space();
    scanner.eat(b':')?;
    // Read by serde_json, which checks it once and lends it as it has to be kept.
    let (value, end) = reader::raw_value(text.get(scanner.at..)?)?;
    // The event object and the CloudEvent around it take two levels.
    if reader::deeper_than(value.get(), MAX_DEPTH - 2).is_some() {
        return None;
    }
    scanner.at += end;
    scanner.space();
    let name = CompactString::from(reader::decode(name, escaped)?);
    Some((name, value.to_owned(), scanner.at))
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

/// Where a `data` member holding an object goes: its position, and its members.
type Data<'s, 'a> = Option<&'s mut Option<(u32, Fields<'a>)>>;

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// JSON's white space: nothing else (no BOM, no other Unicode space).
    #[inline]
    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn end(&mut self) -> Option<()> {
        self.space();
        (self.at == self.text.len()).then_some(())
    }

    /// An object's members into `fields`, from its opening brace through its closing one.
    /// Their values may open `levels` arrays or objects. With `data`, a member `data`
    /// holding an object is read as one too, the last one kept there.
    fn object(
        &mut self,
        fields: &mut Fields<'a>,
        levels: usize,
        mut data: Data<'_, 'a>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.space();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let name_start = self.at;
            let (key, name_escaped) = match self.known_name() {
                Some(key) => (Some(key), false),
                None => {
                    let escaped = self.string()?;
                    let name = self.text.get(name_start..self.at)?;
                    (Key::of_name(name, escaped), escaped)
                }
            };
            let name = Span::new(name_start, self.at);
            self.space();
            self.eat(b':')?;
            self.space();
            let start = self.at;
            let mut value_escaped = false;
            match (self.peek()?, key, data.as_mut()) {
                (b'"', _, _) => value_escaped = self.string()?,
                (b'{', Some(Key::Data), Some(data)) if levels > 0 => {
                    // A repeated `data`: the last counts.
                    let pos = u32::try_from(fields.len()).ok()?;
                    let (_, inner) = data.insert((pos, Fields::new(self.text)));
                    self.object(inner, levels - 1, None)?;
                }
                _ => self.value(levels)?,
            }
            fields.push(Entry {
                name,
                value: Span::new(start, self.at),
                key,
                name_escaped,
                value_escaped,
            });
            self.space();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.space();
                }
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A member name that is a known key's, quotes included: compared with the names that
    /// start with its first letter, which costs less than reading a string and looking it up.
    #[inline]
    fn known_name(&mut self) -> Option<Key> {
        let rest = self.text.as_bytes().get(self.at..)?.strip_prefix(b"\"")?;
        let key = Key::starting(*rest.first()?).iter().copied().find(|key| {
            let name = key.name().as_bytes();
            rest.get(name.len()) == Some(&b'"') && rest.starts_with(name)
        })?;
        self.at += key.name().len() + 2;
        Some(key)
    }

    /// A string, through its closing quote; whether it holds an escape.
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        self.eat(b'"')?;
        let bytes = self.text.as_bytes();
        let mut escaped = false;
        loop {
            self.at += plain_len(bytes.get(self.at..)?);
            match bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Some(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                _ => return None, // a control character, or the end
            }
        }
    }

    /// One escape, from its backslash.
    #[cold]
    fn escape(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        self.at += match bytes.get(self.at + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
            // Any four hex digits: a lone surrogate is read as Go reads it, later.
            b'u' if bytes
                .get(self.at + 2..self.at + 6)?
                .iter()
                .all(u8::is_ascii_hexdigit) =>
            {
                6
            }
            _ => return None,
        };
        Some(())
    }

    /// A number as JSON writes it: `-`, no leading zero, a fraction and an exponent each
    /// with digits.
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.').is_some() {
            self.peek()?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.peek()?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.as_bytes().get(self.at..)?;
        rest.starts_with(word.as_bytes()).then_some(())?;
        self.at += word.len();
        Some(())
    }

    /// One value that may open `levels` arrays or objects, checked and skipped.
    fn value(&mut self, levels: usize) -> Option<()> {
        // The arrays and objects open around the value being read: one bit each, innermost
        // lowest, set for an array. At most `MAX_DEPTH` of them.
        let mut open: u128 = 0;
        let mut depth = 0;
        loop {
            // A value starts here.
            match self.peek()? {
                b'"' => _ = self.string()?,
                b'-' | b'0'..=b'9' => self.number()?,
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                bracket @ (b'[' | b'{') => {
                    depth += 1;
                    if depth > levels {
                        return None;
                    }
                    self.at += 1;
                    open = open << 1 | u128::from(bracket == b'[');
                    self.space();
                    match self.peek()? {
                        b']' | b'}' => {} // empty: closed below
                        _ if bracket == b'[' => continue,
                        _ => {
                            self.name()?;
                            continue;
                        }
                    }
                }
                _ => return None,
            }
            // After a value: close what it ends, or go on to the next element.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.space();
                let array = open & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.space();
                        if !array {
                            self.name()?;
                        }
                        break;
                    }
                    b']' if array => {}
                    b'}' if !array => {}
                    _ => return None,
                }
                self.at += 1;
                open >>= 1;
                depth -= 1;
            }
        }
    }

    /// A member name inside a skipped object, through its colon and the space after.
    fn name(&mut self) -> Option<()> {
        self.string()?;
        self.space();
        self.eat(b':')?;
        self.space();
        Some(())
    }
}

/// The length of the run of `bytes` before the first quote, backslash or control character:
/// the plain part of a JSON string. Eight bytes at a time, as most strings are plain.
#[inline]
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // A byte of `x` is zero (or, for `below`, less than n) where the result has its high
    // bit; bytes after the first such one may be marked wrongly, those before it never are.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let mut len = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        // Little-endian whatever the machine: the first byte is the lowest.
        let x = u64::from_le_bytes(word);
        let special = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | below(x, 0x20);
        if special != 0 {
            return len + special.trailing_zeros() as usize / 8;
        }
        len += 8;
    }
    len + bytes[len..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::{Kind, Reader};
    use proptest::prelude::*;

    /// We read `text` exactly as serde_json does, or give up exactly where it refuses it;
    /// read as a document, the last `data` object is read too.
    fn agrees(text: &str) {
        let reference = Fields::read(text, Reader::SerdeJson);
        let mut ours = Fields::new(text);
        let read = object(&mut ours);
        assert_eq!(read.is_some(), reference.is_ok(), "{text:?}");
        let mut document = Document::new(text);
        assert_eq!(super::document(&mut document), read, "{text:?}");
        let Ok(reference) = reference else { return };
        assert_eq!(ours.contents(), reference.contents(), "{text:?}");
        assert_eq!(document.top.contents(), reference.contents(), "{text:?}");
        let data = reference.get(Key::Data);
        let read_at = document.data.as_ref().map(|(pos, _)| *pos);
        match (
            data.filter(|data| data.kind() == Kind::Object),
            &document.data,
        ) {
            (Some(data), Some((pos, read))) => {
                assert_eq!(*pos, data.pos(), "{text:?}");
                let data = Fields::read(data.raw(), Reader::SerdeJson).unwrap();
                assert_eq!(read.contents(), data.contents(), "{text:?}");
            }
            (Some(_), None) => panic!("{text:?}: data not read"),
            // Not an object: whatever was read before is not taken for it.
            (None, _) => assert!(data.is_none_or(|data| read_at != Some(data.pos()))),
        }
    }

    #[test]
    fn reads_what_serde_json_reads_on_a_table() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let mut texts: Vec<String> = [
            "{}",
            " {\t}\n",
            r#"{"id":"1","id":"2","x":1,"x":2}"#,
            r#"{"\u0069d":"\u0031","d\u0061ta":{"a":1},"data":[]}"#,
            r#"{"data":{"protocol":"p"},"data":{"id":"2"}}"#,
            r#"{"data":{"protocol":"p"},"data":null}"#,
            r#"{"data" : { "a" : [ 1 , { } , "" ] } }"#,
            r#"{"a":-0,"b":1.5e-3,"c":1E+2,"d":1e400,"e":true,"f":false,"g":null}"#,
            r#"{"a":"\"\\\/\b\f\n\r\t\ud800\uDC00"}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12G4"}"#,
            "{\"a\":\"tab\there\"}",
            "{\"a\u{0}\":1}",
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
            r#"[]"#,
            "\u{feff}{}",
            "{\u{a0}}",
            "",
            "{",
            r#"{"a":"#,
            r#"{"a":"b"#,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for n in [125, 126, 127, 128, 300] {
            texts.push(format!(r#"{{"a":{}}}"#, deep(n)));
            texts.push(format!(r#"{{"data":{{"a":{}}}}}"#, deep(n)));
            texts.push(format!(r#"{{"a":"{}"}}"#, "[".repeat(n)));
        }
        for text in texts {
            agrees(&text);
        }
    }

    /// A JSON value, its pieces sometimes broken.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            6 => prop::sample::select(vec![
                "null", "true", "false", "0", "-0", "12", "-1.5e3", "1E+2", "\"\"", "\"a\"",
                "\"\\u00e9\\n\"", "\"\\ud800\"", "\"\u{e9}\"",
            ])
            .prop_map(str::to_owned),
            1 => prop::sample::select(vec!["01", "1.", "-", "\"\\x\"", "\"\u{1}\"", "tru", "nul"])
                .prop_map(str::to_owned),
            2 => any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        let space = prop::sample::select(vec!["", "", "", " ", "\n", "\t", "\r", "\u{a0}"]);
        (leaf, space.clone(), space)
            .prop_map(|(value, a, b)| format!("{a}{value}{b}"))
            .prop_recursive(4, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|v| format!("[{}]", v.join(","))),
                    prop::collection::vec((name(), inner), 0..4).prop_map(|members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }),
                ]
            })
    }

    /// A member name, quotes included.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(Key::ALL.to_vec()).prop_map(|key| format!("\"{}\"", key.name())),
            4 => "\"[a-z_]{0,6}\"",
            1 => prop::sample::select(vec![r#""\u0069d""#, r#""d\u0061ta""#, r#""\ud800""#, "\"\u{1}\"", r#""a"#])
                .prop_map(str::to_owned),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn reads_what_serde_json_reads(
            members in prop::collection::vec((name(), value()), 0..8),
            cut in any::<prop::sample::Index>(),
            insert in prop::option::of(prop::sample::select(vec!['{', '}', '[', ']', '"', ',', ':', '\\', ' ', '0'])),
        ) {
            let members: Vec<String> = members.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let text = format!("{{{}}}", members.join(","));
            agrees(&text);
            // A near miss: one character taken out, or another put in.
            let mut chars: Vec<char> = text.chars().collect();
            let at = cut.index(chars.len());
            match insert {
                Some(c) => chars.insert(at, c),
                None => _ = chars.remove(at),
            }
            agrees(&chars.into_iter().collect::<String>());
        }
    }

    #[test]
    fn plain_len_stops_at_the_first_special_byte() {
        for len in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut bytes = vec![b'a'; len];
                bytes.extend([special, b'b', b'"']);
                assert_eq!(plain_len(&bytes), len, "{len} {special}");
            }
            let mut bytes = "é".repeat(len).into_bytes();
            bytes.push(b' ');
            assert_eq!(plain_len(&bytes), bytes.len(), "no special byte");
        }
    }
}
