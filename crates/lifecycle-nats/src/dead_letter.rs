//! Dead letters: events that can never be handled, published as they arrived with headers
//! saying why, so that they can be acknowledged and nothing behind them waits. Published to
//! JetStream, so that whether a stream keeps them is known: `lifecycle streams create` makes
//! one for `lifecycle.dead.>` ([`StreamSpec::dead_letters`](crate::StreamSpec::dead_letters)).

use async_nats::HeaderMap;
use async_nats::jetstream::context::{GetStreamByNameErrorKind, PublishErrorKind};
use lifecycle_core::{MACHINE_EVENT_PREFIX, is_lifecycle_subject};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind};
use crate::subscribe::Received;

/// The NATS headers of a dead letter.
pub mod headers {
    /// Why the event was given up on.
    pub const REASON: &str = "Lifecycle-Dead-Letter-Reason";
    /// How many times handling it was tried.
    pub const ATTEMPTS: &str = "Lifecycle-Dead-Letter-Attempts";
    /// The durable consumer it came from, when it came from one.
    pub const CONSUMER: &str = "Lifecycle-Dead-Letter-Consumer";
    /// What refused it: for `forward`, the receiver's URL (credentials redacted).
    pub const HANDLER: &str = "Lifecycle-Dead-Letter-Handler";
    /// The subject it arrived on.
    pub const SUBJECT: &str = "Lifecycle-Dead-Letter-Subject";
    /// Its sequence in the JetStream stream, when it came from one.
    pub const STREAM_SEQUENCE: &str = "Lifecycle-Dead-Letter-Stream-Sequence";
    /// The event's id.
    pub const EVENT_ID: &str = "Lifecycle-Event-Id";
}

/// The longest reason a header carries, in bytes; the log has it whole.
const MAX_REASON: usize = 1024;

/// Why an event was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Why, in one line.
    pub reason: String,
    /// Attempts made, the first included.
    pub attempts: u32,
    /// The durable consumer it came from.
    pub consumer: Option<String>,
    /// What refused it (a receiver URL with credentials redacted, a rule name...).
    pub handler: String,
}

/// Publishes dead letters on one subject: each event's original bytes, with [`headers`].
#[derive(Debug, Clone)]
pub struct DeadLetters {
    client: async_nats::Client,
    subject: String,
    /// Whether the server has JetStream: without, no stream can keep them.
    jetstream: bool,
}

/// Whether a stream keeps a dead letter published by [`DeadLetters::publish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// A stream stored it.
    InStream,
    /// No stream stores its subject (or the server has no JetStream): it is lost unless
    /// someone happened to be subscribed.
    Nowhere,
}

impl Connection {
    /// Dead letters published on `subject`, which must be a plain subject (no wildcards,
    /// no white space) outside `choria.lifecycle.>` and `choria.machine.>`: events
    /// published there would be received (and refused) again.
    pub fn dead_letters(&self, subject: &str) -> Result<DeadLetters, Error> {
        check_subject(subject)?;
        Ok(DeadLetters {
            client: self.client.clone(),
            subject: subject.to_owned(),
            jetstream: self.has_jetstream(),
        })
    }
}

fn check_subject(subject: &str) -> Result<(), Error> {
    let refuse = |why: &str| {
        Err(Error::new(ErrorKind::InvalidSubject(format!(
            "dead-letter subject {subject:?} {why}"
        ))))
    };
    if subject.is_empty()
        || subject.contains(|c: char| c.is_whitespace() || c.is_control())
        || subject
            .split('.')
            .any(|token| token.is_empty() || token == "*" || token == ">")
    {
        return refuse("must be dot-separated tokens, without wildcards or white space");
    }
    if is_lifecycle_subject(subject) || subject.starts_with(MACHINE_EVENT_PREFIX) {
        return refuse("is where events are published: they would be received again");
    }
    Ok(())
}

impl DeadLetters {
    /// Checks that `subject` may hold dead letters, as [`Connection::dead_letters`] does,
    /// without a connection (to validate a configuration early).
    pub fn check_subject(subject: &str) -> Result<(), Error> {
        check_subject(subject)
    }

    /// The subject they go to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Publishes `received` as it arrived, with `letter` in its headers: to the stream that
    /// stores the subject, waiting until it has stored it, or, when no stream does, to
    /// whoever is subscribed, waiting until the server has it ([`Kept::Nowhere`]).
    pub async fn publish(&self, received: &Received, letter: &DeadLetter) -> Result<Kept, Error> {
        let headers = dead_letter_headers(received, letter);
        let payload = received.payload.clone();
        // Asked each time: a stream made while running keeps the next letter.
        let js = async_nats::jetstream::new(self.client.clone());
        let stored = self.jetstream
            && match js.stream_by_subject(self.subject.clone()).await {
                Ok(_) => true,
                Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => false,
                Err(e) => return Err(Error::jetstream(e)),
            };
        if stored {
            let ack = js
                .publish_with_headers(self.subject.clone(), headers, payload)
                .await
                .map_err(Error::publish)?;
            return match ack.await {
                Ok(_) => Ok(Kept::InStream),
                // Removed between the question and the publish.
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => Ok(Kept::Nowhere),
                Err(e) => Err(Error::publish(e)),
            };
        }
        self.client
            .publish_with_headers(self.subject.clone(), headers, payload)
            .await
            .map_err(Error::publish)?;
        self.client.flush().await.map_err(Error::flush)?;
        Ok(Kept::Nowhere)
    }
}

fn dead_letter_headers(received: &Received, letter: &DeadLetter) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut insert = |name: &'static str, value: &str| {
        // Escaped, so never a CR or LF that would end the header.
        if let Ok(value) = header_value(value).parse::<async_nats::HeaderValue>() {
            map.insert(name, value);
        }
    };
    insert(headers::REASON, truncate(&letter.reason, MAX_REASON));
    insert(headers::ATTEMPTS, &letter.attempts.to_string());
    if let Some(consumer) = &letter.consumer {
        insert(headers::CONSUMER, consumer);
    }
    insert(headers::HANDLER, &letter.handler);
    insert(headers::SUBJECT, &received.subject);
    if let Some(sequence) = received.stream_sequence {
        insert(headers::STREAM_SEQUENCE, &sequence.to_string());
    }
    insert(headers::EVENT_ID, received.parsed.event().id());
    map
}

/// `text` with its control characters escaped as Rust's `{:?}` does (`\n`, `\u{1b}`).
fn header_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(identity: &str) -> Received {
        let json = format!(
            r#"{{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":{},"component":"server","timestamp":1700000000,"version":"0.29.4"}}"#,
            serde_json_string(identity)
        );
        crate::subscribe::receive(
            "choria.lifecycle.event.alive.server".into(),
            json.into_bytes().into(),
            Some(crate::subscribe::Position {
                sequence: 42,
                pending: 0,
                stored: 1_700_000_000,
            }),
        )
        .unwrap()
    }

    fn serde_json_string(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn subjects_that_cannot_hold_dead_letters_are_refused() {
        assert!(check_subject("lifecycle.dead.forward").is_ok());
        for (bad, why) in [
            (
                "",
                "must be dot-separated tokens, without wildcards or white space",
            ),
            (
                "a..b",
                "must be dot-separated tokens, without wildcards or white space",
            ),
            (
                "dead.*",
                "must be dot-separated tokens, without wildcards or white space",
            ),
            (
                "dead.>",
                "must be dot-separated tokens, without wildcards or white space",
            ),
            (
                "dead letters",
                "must be dot-separated tokens, without wildcards or white space",
            ),
            (
                "dead\u{7}",
                "must be dot-separated tokens, without wildcards or white space",
            ),
            (
                "choria.lifecycle.dead",
                "is where events are published: they would be received again",
            ),
            (
                "choria.machine.dead",
                "is where events are published: they would be received again",
            ),
        ] {
            assert_eq!(
                check_subject(bad).unwrap_err().to_string(),
                format!("dead-letter subject {bad:?} {why}")
            );
        }
    }

    #[test]
    fn headers_say_why_and_where_from_with_control_characters_escaped() {
        let letter = DeadLetter {
            reason: "cannot send 'bad\nnode' \u{1b}[2J".into(),
            attempts: 3,
            consumer: Some("knative".into()),
            handler: "http://127.0.0.1:8080/".into(),
        };
        let map = dead_letter_headers(&received("bad\nnode"), &letter);
        let get = |name: &str| map.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(
            get(headers::REASON).as_deref(),
            Some("cannot send 'bad\\nnode' \\u{1b}[2J")
        );
        assert_eq!(get(headers::ATTEMPTS).as_deref(), Some("3"));
        assert_eq!(get(headers::CONSUMER).as_deref(), Some("knative"));
        assert_eq!(
            get(headers::HANDLER).as_deref(),
            Some("http://127.0.0.1:8080/")
        );
        assert_eq!(
            get(headers::SUBJECT).as_deref(),
            Some("choria.lifecycle.event.alive.server")
        );
        assert_eq!(get(headers::STREAM_SEQUENCE).as_deref(), Some("42"));
        assert_eq!(
            get(headers::EVENT_ID).as_deref(),
            Some("6b0b2a6e-1f0e-4c1a-9d2e-000000000007")
        );

        let long = DeadLetter {
            reason: "é".repeat(MAX_REASON),
            consumer: None,
            ..letter
        };
        let map = dead_letter_headers(&received("n"), &long);
        assert_eq!(map.get(headers::REASON).unwrap().as_str().len(), MAX_REASON);
        assert!(map.get(headers::CONSUMER).is_none());
    }
}
