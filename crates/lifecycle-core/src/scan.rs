//! A strict, single-pass JSON reader for event objects, written by hand because parsing is
//! the hot path of every consumer: it validates as RFC 8259 requires, records where each
//! member's value lies, and leaves strings undecoded until a caller needs them.

/// Why the input is not JSON, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) at: usize,
    pub(crate) problem: &'static str,
}

/// Nesting deeper than this is refused, so no input can exhaust the stack.
const MAX_DEPTH: u32 = 128;

/// What a value is, as far as events care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String { escaped: bool },
    Number,
    Bool,
    Null,
    Object,
    Array,
}

impl Kind {
    /// The JSON type, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::String { .. } => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
            Kind::Object => "an object",
            Kind::Array => "an array",
        }
    }
}

/// One value: its kind and where its JSON text lies in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Value {
    pub(crate) kind: Kind,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

pub(crate) type Result<T> = std::result::Result<T, SyntaxError>;

/// Reads JSON text that is already known to be UTF-8, so strings need no check of their own.
pub(crate) struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn fail<T>(&self, problem: &'static str) -> Result<T> {
        Err(SyntaxError {
            at: self.pos,
            problem,
        })
    }

    pub(crate) fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    /// Fails unless nothing but white space is left.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters after the JSON value"),
        }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The value read since `start`, which the caller has consumed and validated.
    pub(crate) fn value_since(&self, start: usize, kind: Kind) -> Value {
        Value {
            kind,
            start: start as u32,
            end: self.pos as u32,
        }
    }

    /// Reads the members of an object, the reader on its `{`, calling `member` with each key
    /// (still escaped), the reader positioned on the value. `member` must consume the value.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str, bool) -> Result<()>,
    ) -> Result<()> {
        self.enter()?;
        self.pos += 1; // '{'
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return self.fail("expected a string key");
            }
            let start = self.pos;
            let escaped = self.string()?;
            let key = &self.text[start + 1..self.pos - 1];
            if self.peek() != Some(b':') {
                return self.fail("expected ':' after an object key");
            }
            self.pos += 1;
            self.skip_whitespace();
            member(self, key, escaped)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.fail("expected ',' or '}' in an object"),
            }
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("nesting deeper than 128 levels");
        }
        Ok(())
    }

    /// Reads any value, validating it; objects and arrays are skipped whole.
    pub(crate) fn value(&mut self) -> Result<Value> {
        self.skip_whitespace();
        let start = self.pos;
        let kind = match self.bytes.get(self.pos) {
            Some(b'"') => Kind::String {
                escaped: self.string()?,
            },
            Some(b'{') => {
                self.object(|reader, _, _| reader.value().map(drop))?;
                Kind::Object
            }
            Some(b'[') => {
                self.array()?;
                Kind::Array
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Kind::Number
            }
            Some(b't') => self.literal(b"true", Kind::Bool)?,
            Some(b'f') => self.literal(b"false", Kind::Bool)?,
            Some(b'n') => self.literal(b"null", Kind::Null)?,
            Some(_) => return self.fail("expected a JSON value"),
            None => return self.fail("unexpected end of input"),
        };
        Ok(self.value_since(start, kind))
    }

    fn array(&mut self) -> Result<()> {
        self.enter()?;
        self.pos += 1; // '['
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.value()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.fail("expected ',' or ']' in an array"),
            }
        }
    }

    fn literal(&mut self, word: &'static [u8], kind: Kind) -> Result<Kind> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(kind)
        } else {
            self.fail("invalid literal")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<()> {
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail("invalid number"),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return self.fail("invalid number: no digits after '.'");
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.fail("invalid number: no digits in the exponent");
            }
        }
        Ok(())
    }

    /// Reads a string, the reader on its opening quote, leaving it after the closing one;
    /// returns whether the string holds escapes.
    fn string(&mut self) -> Result<bool> {
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            // Plain characters are the common case: find the next one that is not.
            i += plain_len(&self.bytes[i.min(self.bytes.len())..]);
            match self.bytes.get(i) {
                None => {
                    self.pos = i;
                    return self.fail("unterminated string");
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.bytes.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = self.bytes.get(i + 2..i + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                self.pos = i;
                                return self.fail("invalid \\u escape in string");
                            }
                            i += 6;
                        }
                        _ => {
                            self.pos = i;
                            return self.fail("invalid escape in string");
                        }
                    }
                }
                Some(_) => {
                    self.pos = i;
                    return self.fail("control character in string");
                }
            }
        }
        self.pos = i + 1;
        Ok(escaped)
    }
}

/// The length of the run of `bytes` before the first quote, backslash or control character:
/// the plain part of a JSON string. Eight bytes at a time, as most strings are plain.
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero (or, for `below`, less than n) where the result has its high bit.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut len = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        let special = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | below(x, 0x20);
        if special != 0 {
            break;
        }
        len += 8;
    }
    len + bytes[len..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - len)
}

/// Decodes the escapes of a string's content. A lone surrogate becomes U+FFFD, as Go reads it.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let unit = hex4(&mut chars);
                let c = match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate pairs with a following \uDC00-\uDFFF escape.
                        let rest = chars.as_str();
                        let low = rest
                            .strip_prefix("\\u")
                            .and_then(|r| u32::from_str_radix(r.get(..4)?, 16).ok())
                            .filter(|low| (0xDC00..=0xDFFF).contains(low));
                        match low {
                            Some(low) => {
                                chars = rest[6..].chars();
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            }
                            None => None,
                        }
                    }
                    unit => char::from_u32(unit),
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other), // '"', '\\' and '/' stand for themselves
            None => {}
        }
    }
    out
}

fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    (0..4).fold(0, |n, _| {
        n * 16 + chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0)
    })
}

/// 1-based line and column of a byte offset, for error messages.
pub(crate) fn line_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(input: &str) -> bool {
        let mut reader = Reader::new(input);
        reader.value().and_then(|_| reader.end()).is_ok()
    }

    /// The reader accepts and refuses exactly what serde_json does.
    #[test]
    fn agrees_with_serde_json() {
        let cases = [
            "{}",
            "[]",
            "0",
            "-0",
            "1.5e10",
            "-1E-2",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            r#""a\u00e9\n""#,
            r#""\x""#,
            r#""\u12""#,
            "\"tab\there\"",
            "true",
            "tru",
            "nul",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "[1,2,]",
            "[1 2]",
            r#"{"a":[{"b":null}]}"#,
            "  {} ",
            "{} {}",
            "\"\u{e9}\"",
            "",
            " ",
        ];
        for case in cases {
            let ours = valid(case);
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(case).is_ok();
            assert_eq!(ours, theirs, "{case:?}");
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

    #[test]
    fn refuses_deep_nesting() {
        assert!(!valid(&"[".repeat(200)));
        assert!(valid(&format!("{}{}", "[".repeat(100), "]".repeat(100))));
    }

    #[test]
    fn unescapes_like_go() {
        assert_eq!(unescape(r#"a\"b\\c\/d\te\u00e9"#), "a\"b\\c/d\te\u{e9}");
        assert_eq!(unescape(r"\ud83d\ude00"), "\u{1F600}");
        assert_eq!(unescape(r"node1\ud800"), "node1\u{FFFD}");
        assert_eq!(unescape(r"\udc00x"), "\u{FFFD}x");
    }

    #[test]
    fn positions_are_lines_and_columns() {
        assert_eq!(line_column(b"{\n  \"a\": x", 9), (2, 8));
        assert_eq!(line_column(b"abc", 0), (1, 1));
    }
}
