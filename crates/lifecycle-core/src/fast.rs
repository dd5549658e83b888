//! The fast path: events as Go's `json.Marshal` writes them.
//!
//! Choria's Go code writes every event with the same keys in the same order, no white space
//! and, for ordinary values, no escapes. Reading that one layout directly is several times
//! faster than a general JSON reader. Two near variants are read here too, off the way of
//! Go's own: that layout with white space between its tokens (pretty-printed, or as Python's
//! `json.dumps` writes it), and members no event format defines among Go's (a newer
//! sender's fields, read by the general reader's scanner). Anything else (another order,
//! escapes, other extra members, an envelope we would not write ourselves) returns `None`
//! and the general reader takes over, so both paths always give the same result.

use crate::event::{Event, EventKind, EventType, Extra, GovernorEventType};
use crate::parsed::{AnyEvent, Format, LIFECYCLE_SOURCE, Parsed};
use crate::rfc3339;
use crate::scan::plain_len;

/// Parses `text` if it is laid out as Choria writes events.
pub(crate) fn parse(text: &str) -> Option<Parsed> {
    let mut cursor = Cursor(text, Vec::new());
    // The first member's name says which format, white space allowed around the brace.
    let choria = text.starts_with("{\"protocol\":")
        || skip_space(skip_space(text).strip_prefix('{').unwrap_or_default())
            .starts_with("\"protocol\"");
    let (format, event) = if choria {
        (Format::Choria, cursor.event()?)
    } else {
        (Format::CloudEvents, cursor.cloudevent()?)
    };
    cursor.end()?;
    Some(Parsed {
        format,
        event: AnyEvent::Lifecycle(event),
        envelope: None,
    })
}

/// Where the JSON white space at `at` in `text` ends.
fn after_space(text: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(at) {
        at += 1;
    }
    at
}

/// `text` after the JSON white space it starts with.
fn skip_space(text: &str) -> &str {
    text.get(after_space(text.as_bytes(), 0)..)
        .unwrap_or_default()
}

/// A piece of Go's layout of an event: its bytes, and the same as tokens, with white space
/// allowed before each that starts with `{` or `}` and after each that ends with `{`, `:` or
/// `,`: where pretty printers and Python's `json.dumps` put it. (Elsewhere the general
/// reader reads it.)
struct Go {
    bytes: &'static str,
    tokens: &'static [&'static str],
}

/// A [`Go`] of these tokens.
macro_rules! go {
    ($($token:literal)*) => {
        &Go {
            bytes: concat!($($token),*),
            tokens: &[$($token),*],
        }
    };
}

/// The rest of the text, and the members no event format defines read so far.
struct Cursor<'a>(&'a str, Extra);

impl<'a> Cursor<'a> {
    /// `go`'s bytes, or its tokens with white space between them. Inlined, so that Go's
    /// bytes are compared as the constant they are.
    #[inline(always)]
    fn literal(&mut self, go: &Go) -> Option<()> {
        match self.0.strip_prefix(go.bytes) {
            Some(rest) => {
                self.0 = rest;
                Some(())
            }
            None => self.spaced(go),
        }
    }

    /// `go`'s tokens with white space between them: out of the way of Go's layout.
    #[cold]
    #[inline(never)]
    fn spaced(&mut self, go: &Go) -> Option<()> {
        let text = self.0.as_bytes();
        let mut at = 0;
        for token in go.tokens.iter().map(|token| token.as_bytes()) {
            if let Some(b'{' | b'}') = token.first() {
                at = after_space(text, at);
            }
            let there = match token {
                // One byte, most tokens: compared as such rather than through `memcmp`.
                [byte] => text.get(at) == Some(byte),
                _ => text.get(at..)?.starts_with(token),
            };
            if !there {
                return None;
            }
            at += token.len();
            if let Some(b'{' | b':' | b',') = token.last() {
                at = after_space(text, at);
            }
        }
        self.0 = self.0.get(at..)?;
        Some(())
    }

    /// A string's content up to its closing quote; `None` at an escape or control character,
    /// which the general reader decodes or refuses.
    fn string(&mut self) -> Option<&'a str> {
        let end = plain_len(self.0.as_bytes());
        let (content, rest) = self.0.split_at_checked(end)?;
        self.0 = rest.strip_prefix('"')?;
        Some(content)
    }

    /// `"key":"value"` preceded by `,` unless it is the first member.
    #[inline(always)]
    fn member(&mut self, key: &Go) -> Option<&'a str> {
        self.literal(key)?;
        self.string()
    }

    /// `,"key":`, after any members no event format defines, which are kept: a newer
    /// sender's fields, kept as the general reader keeps them.
    #[inline(always)]
    fn key(&mut self, key: &Go) -> Option<()> {
        match self.0.strip_prefix(key.bytes) {
            Some(rest) => {
                self.0 = rest;
                Some(())
            }
            None => self.key_after_unknown(key),
        }
    }

    /// [`Cursor::key`] with white space, or when something else comes first: out of the way
    /// of Go's layout.
    #[cold]
    #[inline(never)]
    fn key_after_unknown(&mut self, key: &Go) -> Option<()> {
        loop {
            // Go's bytes are not there: white space, or another member first.
            if self.spaced(key).is_some() {
                return Some(());
            }
            let (name, value, len) = crate::scan::unknown_member(self.0)?;
            self.1.push((name, value));
            self.0 = self.0.get(len..)?;
            if let Some(rest) = self.0.strip_prefix(key.bytes) {
                self.0 = rest;
                return Some(());
            }
        }
    }

    /// `,"key":"value"`, after any members no event format defines.
    #[inline(always)]
    fn field(&mut self, key: &Go) -> Option<&'a str> {
        self.key(key)?;
        self.string()
    }

    /// An integer as JSON writes it: no leading zeros, no fraction, no exponent.
    fn digits(&mut self) -> Option<&'a str> {
        let negative = self.0.starts_with('-');
        let digits = self.0[usize::from(negative)..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let end = usize::from(negative) + digits;
        let (number, rest) = self.0.split_at(end);
        let unsigned = &number[usize::from(negative)..];
        if unsigned.is_empty() || (unsigned.len() > 1 && unsigned.starts_with('0')) {
            return None;
        }
        if rest.starts_with(['.', 'e', 'E']) {
            return None;
        }
        self.0 = rest;
        Some(number)
    }

    fn end(&mut self) -> Option<()> {
        self.0
            .trim_start_matches([' ', '\n', '\r', '\t'])
            .is_empty()
            .then_some(())
    }

    /// A Choria-format lifecycle event object, through its closing brace.
    fn event(&mut self) -> Option<Event> {
        self.literal(go!("{" "\"protocol\":" "\""))?;
        let event_type = EventType::from_protocol(self.string()?)?;
        let id = self.field(go!("," "\"id\":" "\""))?;
        let identity = self.field(go!("," "\"identity\":" "\""))?;
        let component = self.field(go!("," "\"component\":" "\""))?;
        self.key(go!("," "\"timestamp\":"))?;
        let timestamp = self.digits()?.parse().ok()?;
        let kind = match event_type {
            EventType::Startup => EventKind::Startup {
                version: self.field(go!("," "\"version\":" "\""))?.into(),
            },
            EventType::Alive => EventKind::Alive {
                version: self.field(go!("," "\"version\":" "\""))?.into(),
            },
            EventType::Shutdown => EventKind::Shutdown,
            EventType::Provisioned => EventKind::Provisioned,
            EventType::Upgraded => EventKind::Upgraded {
                version: self.field(go!("," "\"version\":" "\""))?.into(),
                new_version: self.field(go!("," "\"new_version\":" "\""))?.into(),
            },
            EventType::Governor => {
                let governor = self.field(go!("," "\"governor\":" "\""))?;
                if governor.is_empty() {
                    return None; // invalid: the general reader says so
                }
                self.key(go!("," "\"sequence\":"))?;
                let sequence = self.digits()?.parse().ok()?;
                let stage = self.field(go!("," "\"event_type\":" "\""))?;
                EventKind::Governor {
                    governor: governor.into(),
                    sequence,
                    event_type: GovernorEventType::from_wire(stage),
                }
            }
        };
        self.key(go!("}"))?;
        Some(Event {
            id: id.into(),
            identity: identity.into(),
            component: component.into(),
            timestamp,
            kind,
            extra: std::mem::take(&mut self.1),
        })
    }

    /// A CloudEvent exactly as we (and Choria's Go SDK) write it for its event.
    fn cloudevent(&mut self) -> Option<Event> {
        self.literal(go!("{" "\"specversion\":" "\"1.0\"," "\"id\":" "\""))?;
        let id = self.string()?;
        self.literal(go!("," "\"source\":" "\""))?;
        self.0 = self.0.strip_prefix(LIFECYCLE_SOURCE)?;
        let protocol = self.member(go!("\"," "\"type\":" "\""))?;
        let mut with_subject = Cursor(self.0, Vec::new());
        let subject = with_subject.member(go!("," "\"subject\":" "\""));
        if subject.is_some() {
            *self = with_subject;
        }
        self.literal(go!("," "\"datacontenttype\":" "\"application/json\""))?;
        let time = self.member(go!("," "\"time\":" "\""))?;
        self.literal(go!("," "\"data\":"))?;
        let event = self.event()?;
        self.literal(go!("}"))?;
        // We write `subject` when the trimmed identity is not empty, and then only.
        let trimmed = event.identity.trim();
        let subject_as_written = match subject {
            Some(subject) => !subject.is_empty() && subject == trimmed,
            None => trimmed.is_empty(),
        };
        let canonical = id == event.id.as_str()
            && protocol == event.protocol()
            && subject_as_written
            && rfc3339::is_utc_text(time, event.timestamp);
        canonical.then_some(event)
    }
}

// The tests write every event back as a CloudEvent, machine events too: they need `id`.
#[cfg(all(test, feature = "id"))]
mod tests {
    use super::*;
    use crate::reader::Reader;

    fn both(text: &str) -> (Option<Parsed>, Result<Parsed, crate::Error>) {
        (parse(text), crate::parse::read(text, Reader::Scan))
    }

    /// Whatever the fast path accepts, the general reader reads the same way.
    #[test]
    fn agrees_with_the_general_reader() {
        let mut inputs = Vec::new();
        for event_type in EventType::ALL {
            for identity in ["node1.example.net", " padded ", "", "ünïcode"] {
                for stage in [GovernorEventType::Enter, GovernorEventType::Exit] {
                    let event = Event::builder(event_type)
                        .identity("x")
                        .component("server")
                        .version("0.28.0")
                        .new_version("0.29.4")
                        .governor("PUPPET")
                        .sequence(7)
                        .governor_event(stage)
                        .timestamp(-5)
                        .build()
                        .unwrap();
                    let mut event = event;
                    event.identity = identity.into();
                    inputs.push(String::from_utf8(event.to_json()).unwrap());
                    inputs.push(String::from_utf8(event.cloudevent().to_json()).unwrap());
                }
            }
        }
        let mut fast = 0;
        for input in &inputs {
            let (quick, general) = both(input);
            let general = general.unwrap();
            if let Some(quick) = quick {
                fast += 1;
                assert_eq!(quick.event(), general.event(), "{input}");
                assert_eq!(quick.format(), general.format(), "{input}");
                assert_eq!(quick.to_json(), general.to_json(), "{input}");
            }
        }
        assert_eq!(
            fast,
            inputs.len(),
            "every event we write takes the fast path"
        );
    }

    /// Members no event format defines among Go's are kept as the general reader keeps them.
    #[test]
    fn reads_unknown_members_among_gos() {
        let alive = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n","component":"c","timestamp":1,"version":"v"}"#;
        let members = [
            r#","x":1"#,
            r#","x":[1,{"a":null}],"y":"z""#,
            r#", "x" : "y" "#,
            r#","\u0078":true,"x":false"#,
            r#","labels":{"protocol":"p","id":[]}"#,
            r#","idx":"1""#,
            r#" ,"x":1 "#,
            &format!(r#","x":{}{}"#, "[".repeat(126), "]".repeat(126)),
        ];
        let places = [
            ",\"id\"",
            ",\"identity\"",
            ",\"timestamp\"",
            ",\"version\"",
            "}",
        ];
        for (members, place) in members.iter().flat_map(|m| places.map(|p| (m, p))) {
            let text = alive.replacen(place, &format!("{members}{place}"), 1);
            let (quick, general) = both(&text);
            let quick = quick.unwrap_or_else(|| panic!("{text}"));
            let general = general.unwrap();
            assert_eq!(quick.event(), general.event(), "{text}");
            assert_eq!(quick.to_json(), general.to_json(), "{text}");
            assert!(quick.event().as_lifecycle().unwrap().extra().count() > 0);
        }
    }

    /// Go's layout with white space where pretty printers and Python's `json.dumps` put it
    /// reads here; with white space elsewhere, it is left to the general reader.
    #[test]
    fn reads_gos_layout_with_white_space() {
        let alive = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n","component":"c","timestamp":1,"version":"v"}"#;
        let event = crate::parse(alive.as_bytes()).unwrap();
        let cloud = String::from_utf8(event.event().cloudevent().to_json()).unwrap();
        let dumps = |text: &str| {
            text.replace("\",\"", "\", \"")
                .replace("\":", "\": ")
                .replace("1,", "1, ")
        };
        let pretty = |text: &str| {
            text.replace('{', "{\n  ")
                .replace(",\"", ",\n  \"")
                .replace("\":", "\": ")
                .replace('}', "\n}")
        };
        for text in [alive, &cloud] {
            for spaced in [dumps(text), pretty(text), format!(" \t{text}\r\n")] {
                let (quick, general) = both(&spaced);
                let quick = quick.unwrap_or_else(|| panic!("{spaced}"));
                assert_eq!(quick.event(), general.as_ref().unwrap().event(), "{spaced}");
                assert_eq!(quick.to_json(), general.unwrap().to_json(), "{spaced}");
            }
            for elsewhere in [text.replace("\":", "\" :"), text.replace(",\"", " ,\"")] {
                assert!(parse(&elsewhere).is_none(), "{elsewhere}");
                assert!(crate::parse(elsewhere.as_bytes()).is_ok(), "{elsewhere}");
            }
        }
    }

    /// Near misses fall back rather than read something else.
    #[test]
    fn near_misses_fall_back() {
        let alive = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n","component":"c","timestamp":1,"version":"v"}"#;
        assert!(parse(alive).is_some());
        for broken in [
            alive.replace("\"n\"", "\"n\\u0041\""),
            alive.replace(":1,", ":01,"),
            alive.replace(":1,", ":1.0,"),
            alive.replace(":1,", ":1e3,"),
            alive.replace(":1,", ":-,"),
            alive.replace(":1,", ":99999999999999999999,"),
            // After Go's members, a known key (repeated, or another type's) or bad JSON.
            alive.replace("\"v\"}", "\"v\",\"version\":\"w\"}"),
            alive.replace("\"v\"}", "\"v\",\"machine\":\"m\"}"),
            alive.replace("\"v\"}", "\"v\",\"versio\\u006e\":\"w\"}"),
            alive.replace("\"v\"}", "\"v\",\"x\":01}"),
            alive.replace("\"v\"}", "\"v\",\"x\":1,}"),
            alive.replace(
                "\"v\"}",
                &format!("\"v\",\"x\":{}{}}}", "[".repeat(127), "]".repeat(127)),
            ),
            alive.replace("\"v\"}", "\"v\"} x"),
            alive.replace("\"n\"", "\"n\u{1}\""),
            alive.replace("v1.alive", "v1.bogus"),
            alive.replace("\"v\"}", "\"v\""),
        ] {
            assert!(parse(&broken).is_none(), "{broken}");
        }
        // The envelope of a CloudEvent we would not have written ourselves is kept.
        let event = crate::parse(alive.as_bytes()).unwrap();
        let cloud = String::from_utf8(event.event().cloudevent().to_json()).unwrap();
        assert!(parse(&cloud).is_some());
        for different in [
            cloud.replacen("\"id\":\"1\"", "\"id\":\"2\"", 1),
            cloud.replace("1970-01-01T00:00:01Z", "1970-01-01T00:00:02Z"),
            cloud.replace("\"subject\":\"n\"", "\"subject\":\"m\""),
            cloud.replace("\"subject\":\"n\",", ""),
            cloud.replace(
                "\"type\":\"io.choria.lifecycle.v1.alive\"",
                "\"type\":\"x\"",
            ),
        ] {
            assert!(parse(&different).is_none(), "{different}");
        }
    }
}
