//! Text made safe to write to a terminal.
//!
//! Identities, components and versions come from whoever can publish on the broker. Written
//! raw, an ESC sequence in one of them (`\x1b[2J`) drives the reader's terminal, and a CR or
//! LF forges extra lines in `lifecycle view`'s output or in a log. So every text the
//! command-line tool writes for a person goes through [`escape_control`] or
//! [`TerminalSafe`], as `ls` and `git` quote file names.
//!
//! The style is that of a Rust string literal, one escape per character:
//! - tab, line feed and carriage return as `\t`, `\n`, `\r`;
//! - the other C0 controls (U+0000 to U+001F) and DEL as `\x` and two hex digits: `\x1b`, `\x7f`;
//! - the C1 controls (U+0080 to U+009F, which some terminals take as ESC sequences),
//!   the line and paragraph separators U+2028 and U+2029, and the bidirectional embeddings,
//!   overrides and isolates U+202A to U+202E and U+2066 to U+2069 (which reorder what follows
//!   them on the line, as in "Trojan Source") as `\u{…}` in lower-case hex: `\u{9b}`, `\u{202e}`.
//!
//! Everything else, backslashes included, is written as it is: text with nothing to escape
//! prints byte for byte as Choria prints it. An escape is therefore not always
//! distinguishable from the same characters typed literally; the escapes are for safety, and
//! `--json` is the lossless form.
//!
//! ```
//! use lifecycle_core::terminal::{escape_control, TerminalSafe};
//!
//! assert_eq!(escape_control("web1\x1b[2J\r\n[alive] forged"), r"web1\x1b[2J\r\n[alive] forged");
//! assert_eq!(escape_control("node1.example.net"), "node1.example.net");
//! assert_eq!(TerminalSafe("a\u{9b}b").to_string(), r"a\u{9b}b");
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::io;

/// Whether `c` is escaped before it reaches a terminal: a control character (C0, DEL, C1),
/// a line or paragraph separator, or a bidirectional embedding, override or isolate.
pub fn is_terminal_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `text` holds a character [`is_terminal_unsafe`].
pub fn has_terminal_unsafe(text: &str) -> bool {
    find_unsafe(text).is_some()
}

/// The byte position of the first character [`is_terminal_unsafe`] in `text`, found a byte
/// at a time (this runs on every line `view` prints and every event built): each such
/// character starts with a byte below 0x20, 0x7f, 0xc2 (U+0080 to U+00BF) or 0xe2 (U+2000
/// to U+2FFF), and only then is the character decoded.
fn find_unsafe(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (at, &byte) in bytes.iter().enumerate() {
        let candidate = match byte {
            0x00..0x20 | 0x7f => return Some(at),
            0xc2 | 0xe2 => true,
            _ => false,
        };
        // `at` is the first byte of a character: a boundary.
        if candidate && text[at..].chars().next().is_some_and(is_terminal_unsafe) {
            return Some(at);
        }
    }
    None
}

/// `text` with every character [`is_terminal_unsafe`] escaped; borrowed when there is none.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if find_unsafe(text).is_none() {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    // Writing to a String cannot fail.
    let _ = Escaping(&mut escaped).write_str(text);
    Cow::Owned(escaped)
}

/// `bytes` as text with every character [`is_terminal_unsafe`] escaped, and every byte
/// that is not part of valid UTF-8 written as `\x` and two hex digits (`\xff`), as in a
/// Rust byte string. Borrowed when the bytes are UTF-8 with nothing to escape.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape_control(text);
    }
    let mut escaped = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        let _ = Escaping(&mut escaped).write_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(escaped, "\\x{byte:02x}");
        }
    }
    Cow::Owned(escaped)
}

/// Writes `bytes` and a line feed to `out`, a whole line in one call: `Ok(false)` when `out`
/// was closed by its reader (a broken pipe, as `| head` leaves stdout), when a program should
/// stop writing quietly.
pub fn write_line(out: &mut impl io::Write, bytes: &[u8]) -> io::Result<bool> {
    match out.write_all(bytes).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Displays `T` with every character [`is_terminal_unsafe`] escaped, without allocating:
/// `eprintln!("{}", TerminalSafe(&error))`. Width and fill flags are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSafe<T>(pub T);

impl<T: fmt::Display> fmt::Display for TerminalSafe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{}", self.0)
    }
}

/// Escapes what passes through it into the writer it wraps.
struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = find_unsafe(rest) {
            let (safe, unsafe_) = rest.split_at(at);
            self.0.write_str(safe)?;
            let mut chars = unsafe_.chars();
            if let Some(c) = chars.next() {
                escape_char(&mut self.0, c)?;
            }
            rest = chars.as_str();
        }
        self.0.write_str(rest)
    }
}

fn escape_char(out: &mut impl Write, c: char) -> fmt::Result {
    match c {
        '\t' => out.write_str("\\t"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_a_rust_string_literal() {
        let cases = [
            ("node1.example.net", "node1.example.net"),
            ("", ""),
            ("a\tb", r"a\tb"),
            ("\r\n[alive] forged", r"\r\n[alive] forged"),
            ("\u{1b}[2J", r"\x1b[2J"),
            ("\0", r"\x00"),
            ("\u{7}\u{8}\u{b}\u{c}\u{1f}", r"\x07\x08\x0b\x0c\x1f"),
            ("\u{7f}", r"\x7f"),
            ("\u{80}\u{85}\u{9b}\u{9f}", r"\u{80}\u{85}\u{9b}\u{9f}"),
            ("a\u{2028}b\u{2029}", r"a\u{2028}b\u{2029}"),
            (
                "\u{202a}\u{202e}\u{2066}\u{2069}",
                r"\u{202a}\u{202e}\u{2066}\u{2069}",
            ),
            // Printable text outside ASCII, and backslashes, stay as they are.
            ("héllo wörld 東京 \u{a0}", "héllo wörld 東京 \u{a0}"),
            (r"C:\x1b", r"C:\x1b"),
            (
                "\u{200e}\u{2065}\u{206a}\u{a0}",
                "\u{200e}\u{2065}\u{206a}\u{a0}",
            ),
        ];
        for (text, escaped) in cases {
            assert_eq!(escape_control(text), escaped, "{text:?}");
            assert_eq!(TerminalSafe(text).to_string(), escaped, "{text:?}");
            assert_eq!(escape_bytes(text.as_bytes()), escaped, "{text:?}");
        }
    }

    #[test]
    fn borrows_when_nothing_is_escaped() {
        assert!(matches!(escape_control("web1"), Cow::Borrowed("web1")));
        assert!(matches!(escape_bytes(b"web1"), Cow::Borrowed("web1")));
        assert!(matches!(escape_control("a\nb"), Cow::Owned(_)));
    }

    #[test]
    fn invalid_utf8_bytes_are_hex_escapes() {
        assert_eq!(escape_bytes(b"a\xffb\x1b\xc3"), r"a\xffb\x1b\xc3");
        assert_eq!(escape_bytes("é\u{9b}".as_bytes()), r"é\u{9b}");
    }

    #[test]
    fn escaped_text_holds_no_unsafe_character() {
        let all: String = (0..=0x3000u32).filter_map(char::from_u32).collect();
        let escaped = escape_control(&all);
        assert!(!escaped.contains(is_terminal_unsafe));
        assert!(!escaped.contains(['\u{1b}', '\r', '\n']));
    }

    #[test]
    fn the_byte_scan_finds_what_the_char_scan_finds() {
        for c in (0..=0x3000u32)
            .chain([0xfffd, 0x10ffff])
            .filter_map(char::from_u32)
        {
            for text in [format!("{c}"), format!("ab{c}cd"), format!("é{c}\u{2027}")] {
                assert_eq!(
                    find_unsafe(&text),
                    text.find(is_terminal_unsafe),
                    "{text:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_byte_scan_agrees_on_any_text(text in "\\PC*|[\\x00-\\x7f\u{80}-\u{9f}\u{2020}-\u{2070}a-z]*") {
            proptest::prop_assert_eq!(find_unsafe(&text), text.find(is_terminal_unsafe));
        }
    }

    #[test]
    fn wraps_any_display() {
        let error = format!("invalid identity '{}'", "x\u{1b}]0;title\u{7}");
        assert_eq!(
            TerminalSafe(&error).to_string(),
            r"invalid identity 'x\x1b]0;title\x07'"
        );
        assert_eq!(
            TerminalSafe(format_args!("{}-{}", 1, '\n')).to_string(),
            r"1-\n"
        );
    }
}
