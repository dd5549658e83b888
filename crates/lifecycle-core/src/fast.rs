//! The fast path: events exactly as Go's `json.Marshal` writes them.
//!
//! Choria's Go code writes every event with the same keys in the same order, no white space
//! and, for ordinary values, no escapes. Reading that one layout directly is several times
//! faster than a general JSON reader. Anything else (another order, white space, escapes,
//! extra members, an envelope we would not write ourselves) returns `None` and the general
//! reader takes over, so both paths always give the same result.

use crate::event::{Event, EventKind, EventType, GovernorEventType};
use crate::parse::{AnyEvent, Format, LIFECYCLE_SOURCE, Parsed};
use crate::rfc3339;

/// Parses `text` if it is laid out exactly as Choria writes events.
pub(crate) fn parse(text: &str) -> Option<Parsed> {
    let mut cursor = Cursor(text);
    let (format, event) = if text.starts_with("{\"protocol\":") {
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

struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn literal(&mut self, literal: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(literal)?;
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
    fn member(&mut self, key: &str) -> Option<&'a str> {
        self.literal(key)?;
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
        self.literal("{\"protocol\":\"")?;
        let event_type = EventType::from_protocol(self.string()?)?;
        let id = self.member(",\"id\":\"")?;
        let identity = self.member(",\"identity\":\"")?;
        let component = self.member(",\"component\":\"")?;
        self.literal(",\"timestamp\":")?;
        let timestamp = self.digits()?.parse().ok()?;
        let kind = match event_type {
            EventType::Startup => EventKind::Startup {
                version: self.member(",\"version\":\"")?.into(),
            },
            EventType::Alive => EventKind::Alive {
                version: self.member(",\"version\":\"")?.into(),
            },
            EventType::Shutdown => EventKind::Shutdown,
            EventType::Provisioned => EventKind::Provisioned,
            EventType::Upgraded => EventKind::Upgraded {
                version: self.member(",\"version\":\"")?.into(),
                new_version: self.member(",\"new_version\":\"")?.into(),
            },
            EventType::Governor => {
                let governor = self.member(",\"governor\":\"")?;
                if governor.is_empty() {
                    return None; // invalid: the general reader says so
                }
                self.literal(",\"sequence\":")?;
                let sequence = self.digits()?.parse().ok()?;
                let stage = self.member(",\"event_type\":\"")?;
                EventKind::Governor {
                    governor: governor.into(),
                    sequence,
                    event_type: GovernorEventType::from_wire(stage),
                }
            }
        };
        self.literal("}")?;
        Some(Event {
            id: id.into(),
            identity: identity.into(),
            component: component.into(),
            timestamp,
            kind,
            extra: Vec::new(),
        })
    }

    /// A CloudEvent exactly as we (and Choria's Go SDK) write it for its event.
    fn cloudevent(&mut self) -> Option<Event> {
        self.literal("{\"specversion\":\"1.0\",\"id\":\"")?;
        let id = self.string()?;
        self.literal(",\"source\":\"")?;
        self.literal(LIFECYCLE_SOURCE)?;
        let protocol = self.member("\",\"type\":\"")?;
        let subject = if self.0.starts_with(",\"subject\":\"") {
            Some(self.member(",\"subject\":\"")?)
        } else {
            None
        };
        self.literal(",\"datacontenttype\":\"application/json\"")?;
        let time = self.member(",\"time\":\"")?;
        self.literal(",\"data\":")?;
        let event = self.event()?;
        self.literal("}")?;
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

/// The length of the run of `bytes` before the first quote, backslash or control character:
/// the plain part of a JSON string. Eight bytes at a time, as most strings are plain.
fn plain_len(bytes: &[u8]) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_general;

    fn both(text: &str) -> (Option<Parsed>, Result<Parsed, crate::Error>) {
        (parse(text), parse_general(text.as_bytes()))
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
            alive.replace("\"v\"}", "\"v\",\"x\":1}"),
            alive.replace("\"v\"}", "\"v\"} x"),
            alive.replace("{\"protocol\"", "{ \"protocol\""),
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
