//! Inspecting events stored in files or arriving as lines, as `lifecycle inspect` does: each
//! input's display line, or a JSON report of what it is, or why it is not an event.
//!
//! Inputs are read with a bound, [`MAX_EVENT_BYTES`] (no event is longer), so a file or a line
//! that never ends is refused, not read into memory whole: [`read_bounded`] reads a file,
//! [`read_line_bounded`] one line of a stream. With the `id` feature, [`Report`] is one
//! input's outcome as JSON and [`Inspector`] writes a line for each input.
//!
//! This module reads and writes through [`std::io::Read`], [`BufRead`] and [`Write`] only:
//! opening files and choosing where the lines go is the caller's.

#[cfg(feature = "id")]
use std::io::Write;
use std::io::{self, BufRead, Read};

#[cfg(feature = "id")]
use serde_core::ser::{Serialize, SerializeMap, Serializer};
#[cfg(feature = "id")]
use serde_json::value::RawValue;

#[cfg(feature = "id")]
use crate::parse::parse;
use crate::parsed::MAX_EVENT_BYTES;
use crate::parsed::{Format, Parsed};
#[cfg(feature = "id")]
use crate::terminal::{TerminalSafe, write_line};

/// What stdin is called where a line names its input, as grep calls it.
pub const STDIN_NAME: &str = "(standard input)";

/// The bytes of `input`, refusing to read more than an event can be: at most
/// [`MAX_EVENT_BYTES`] + 1 bytes, so that a longer input is still seen to be too long.
pub fn read_bounded(input: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(MAX_EVENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads one line into `line` (without its `\n`) keeping at most [`MAX_EVENT_BYTES`] of it:
/// `None` at the end of input, `Some(true)` when the line was longer than that (what it kept
/// is then incomplete), `Some(false)` otherwise.
pub fn read_line_bounded(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut seen_any = false;
    let mut overflow = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(seen_any.then_some(overflow));
        }
        seen_any = true;
        let (taken, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = &chunk[..if done { taken - 1 } else { taken }];
        if line.len() + content.len() > MAX_EVENT_BYTES {
            overflow = true;
        } else {
            line.extend_from_slice(content);
        }
        input.consume(taken);
        if done {
            return Ok(Some(overflow));
        }
    }
}

/// One input's outcome as JSON: the event's attributes, display line, Choria JSON and
/// CloudEvent (`"ok": true`), or why it is not an event (`"ok": false`, `"error"`); either
/// starts with the `"file"` it came from when one is named.
#[cfg(feature = "id")]
#[derive(Debug)]
pub enum Report<'a> {
    /// A parsed event.
    Event {
        /// The input it came from, when named.
        file: Option<&'a str>,
        /// The event as parsed.
        parsed: &'a Parsed,
    },
    /// An input that is no event.
    Error {
        /// The input it came from, when named.
        file: Option<&'a str>,
        /// Why, starting with where in the input.
        error: String,
    },
}

#[cfg(feature = "id")]
impl Report<'_> {
    /// The compact JSON, keys in the order listed by [`Report`]'s `Serialize`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a report serialises to memory")
    }
}

/// `file` (when named), `ok`, then for an event `format`, `type`, `protocol`, `id`,
/// `identity`, `component`, `timestamp`, `subject`, `display`, `event` (Choria's JSON) and
/// `cloudevent` (as received when it came as a CloudEvent, so that extensions and ids are
/// shown as sent); for an error, `error`.
#[cfg(feature = "id")]
impl Serialize for Report<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let (Report::Event { file, .. } | Report::Error { file, .. }) = self;
        if let Some(file) = file {
            map.serialize_entry("file", file)?;
        }
        match self {
            Report::Event { parsed, .. } => {
                let event = parsed.event();
                let cloudevent = match parsed.format() {
                    Format::CloudEvents => parsed.to_json(),
                    Format::Choria => event.cloudevent().to_json(),
                };
                map.serialize_entry("ok", &true)?;
                map.serialize_entry("format", &parsed.format())?;
                map.serialize_entry("type", event.type_name())?;
                map.serialize_entry("protocol", &event.protocol())?;
                map.serialize_entry("id", event.id())?;
                map.serialize_entry("identity", event.identity())?;
                map.serialize_entry("component", &event.component())?;
                map.serialize_entry("timestamp", &event.timestamp())?;
                map.serialize_entry("subject", &event.subject().ok())?;
                map.serialize_entry("display", &event.to_string())?;
                map.serialize_entry("event", event)?;
                map.serialize_entry("cloudevent", &raw(cloudevent))?;
            }
            Report::Error { error, .. } => {
                map.serialize_entry("ok", &false)?;
                map.serialize_entry("error", error)?;
            }
        }
        map.end()
    }
}

/// Embeds JSON we wrote ourselves as it is, keeping its key order.
#[cfg(feature = "id")]
fn raw(json: Vec<u8>) -> Box<RawValue> {
    let text = String::from_utf8(json).expect("serde_json writes UTF-8");
    RawValue::from_string(text).expect("serde_json writes valid JSON")
}

/// Writes a line to `out` for each input: its display line (escaped for a terminal), or its
/// [`Report`] with `json`; the error of an input that is no event goes to `errors` (or, with
/// `json`, its report to `out`). With `named`, each line starts with the input it came from
/// (`FILE:`, or `"file"` in JSON), as grep does.
#[cfg(feature = "id")]
#[derive(Debug)]
pub struct Inspector<W, E> {
    json: bool,
    named: bool,
    out: W,
    errors: E,
    failed: bool,
}

#[cfg(feature = "id")]
impl<W: Write, E: Write> Inspector<W, E> {
    /// An inspector writing display lines (or JSON reports) to `out`, errors to `errors`.
    pub fn new(out: W, errors: E, json: bool, named: bool) -> Self {
        Inspector {
            json,
            named,
            out,
            errors,
            failed: false,
        }
    }

    /// Whether any input was not an event.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Reports one input: `name` says where it is in errors (`stdin line 3`), `file` which
    /// input it came from; `bytes` is the input or why it could not be read. `Ok(false)` once
    /// `out` was closed by its reader (a broken pipe), when nothing more should be read.
    pub fn input(
        &mut self,
        name: &str,
        file: &str,
        bytes: Result<&[u8], String>,
    ) -> io::Result<bool> {
        let parsed = bytes.and_then(|b| parse(b).map_err(|e| e.to_string()));
        let file = self.named.then_some(file);
        let line = match (&parsed, self.json) {
            (Ok(parsed), false) => match file {
                Some(file) => TerminalSafe(format_args!("{file}:{}", parsed.event())).to_string(),
                None => TerminalSafe(parsed.event()).to_string(),
            }
            .into_bytes(),
            (Ok(parsed), true) => Report::Event { file, parsed }.to_json(),
            (Err(error), false) => {
                self.failed = true;
                writeln!(
                    self.errors,
                    "{}",
                    TerminalSafe(format_args!("{name}: {error}"))
                )?;
                return Ok(true);
            }
            (Err(error), true) => {
                self.failed = true;
                let error = format!("{name}: {error}");
                Report::Error { file, error }.to_json()
            }
        };
        write_line(&mut self.out, &line)
    }

    /// Reports each line of `input` that is not blank, one event a line, named
    /// `stdin line N` and coming from `file`; `Ok(false)` once `out` was closed.
    pub fn lines(&mut self, mut input: impl BufRead, file: &str) -> io::Result<bool> {
        let mut line = Vec::new();
        for number in 1.. {
            line.clear();
            let Some(overflow) = read_line_bounded(&mut input, &mut line)? else {
                return Ok(true);
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let name = format!("stdin line {number}");
            let bytes = if overflow {
                Err(format!(
                    "line longer than the limit of {MAX_EVENT_BYTES} bytes"
                ))
            } else {
                Ok(&line[..])
            };
            if !self.input(&name, file, bytes)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_longer_than_an_event_is_cut_and_said_to_be() {
        let long = vec![b'x'; MAX_EVENT_BYTES + 1];
        let mut input = [&long[..], b"\nshort\nlast"].concat();
        let mut reader = &input[..];
        let mut line = Vec::new();
        assert_eq!(
            read_line_bounded(&mut reader, &mut line).unwrap(),
            Some(true)
        );
        line.clear();
        assert_eq!(
            read_line_bounded(&mut reader, &mut line).unwrap(),
            Some(false)
        );
        assert_eq!(line, b"short");
        line.clear();
        assert_eq!(
            read_line_bounded(&mut reader, &mut line).unwrap(),
            Some(false)
        );
        assert_eq!(line, b"last");
        line.clear();
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), None);
        input.truncate(3);
        assert_eq!(read_bounded(&input[..]).unwrap(), b"xxx");
        assert_eq!(read_bounded(&long[..]).unwrap().len(), MAX_EVENT_BYTES + 1);
    }

    #[cfg(feature = "id")]
    #[test]
    fn inspector_writes_display_lines_reports_and_errors() {
        let alive = br#"{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"node1","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;
        let input = [&alive[..], b"\n\n{}\n"].concat();
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        let mut inspector = Inspector::new(&mut out, &mut errors, false, true);
        assert!(inspector.lines(&input[..], STDIN_NAME).unwrap());
        assert!(inspector.failed());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(standard input):[alive] node1: server version 0.29.4\n"
        );
        assert!(
            String::from_utf8(errors)
                .unwrap()
                .starts_with("stdin line 3: ")
        );

        let mut out = Vec::new();
        let mut inspector = Inspector::new(&mut out, io::sink(), true, false);
        assert!(
            inspector
                .input("f", "f", Err("cannot read: gone".to_owned()))
                .unwrap()
        );
        assert_eq!(out, b"{\"ok\":false,\"error\":\"f: cannot read: gone\"}\n");
    }
}
