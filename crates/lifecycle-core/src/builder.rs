use crate::error::Error;
use crate::event::{Event, EventKind, EventType, GovernorEventType};
use crate::terminal::has_terminal_unsafe;

/// Builds a new [`Event`], refusing one that lacks what its type requires: every type an
/// identity and a component; startup and alive a version; governor a Governor name and one of
/// the four stages (the sequence is 0 unless given, as in Choria); upgraded a version and a
/// new version.
///
/// ```
/// use lifecycle_core::{Event, EventType};
///
/// let event = Event::builder(EventType::Alive)
///     .identity("node1.example.net")
///     .component("server")
///     .version("0.29.4")
///     .build()?;
/// assert_eq!(event.subject()?, "choria.lifecycle.event.alive.server");
///
/// let err = Event::builder(EventType::Startup).identity("n1").component("server").build();
/// assert_eq!(err.unwrap_err().to_string(), "missing required field 'version'");
/// # Ok::<(), lifecycle_core::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct EventBuilder {
    event_type: EventType,
    id: Option<String>,
    timestamp: Option<i64>,
    identity: String,
    component: String,
    version: String,
    new_version: String,
    governor: String,
    sequence: Option<u64>,
    governor_event: Option<GovernorEventType>,
    error: Option<Error>,
}

impl EventBuilder {
    /// Starts an event of `event_type`.
    pub fn new(event_type: EventType) -> Self {
        EventBuilder {
            event_type,
            id: None,
            timestamp: None,
            identity: String::new(),
            component: String::new(),
            version: String::new(),
            new_version: String::new(),
            governor: String::new(),
            sequence: None,
            governor_event: None,
            error: None,
        }
    }

    fn fail(mut self, error: Error) -> Self {
        self.error.get_or_insert(error);
        self
    }

    /// The identity of the sending node: a host or certificate name, so it may not hold a
    /// control character, a line separator or a bidirectional override (what
    /// [`escape_control`](crate::terminal::escape_control) escapes). Events read from the wire may
    /// hold them; this tool does not make such events.
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        let identity = identity.into();
        if has_terminal_unsafe(&identity) {
            return self.fail(Error::invalid(
                "identity",
                &identity,
                "an identity cannot hold control characters, U+2028, U+2029 or bidirectional overrides",
            ));
        }
        self.identity = identity;
        self
    }

    /// The component, e.g. `server`. It becomes the last token of the NATS subject, so it
    /// must pass [`check_subject_token`](crate::check_subject_token): not empty, no `.`,
    /// `*`, `>`, white space or control character.
    pub fn component(mut self, component: impl Into<String>) -> Self {
        let component = component.into();
        // An empty component is reported as missing by `build`.
        if !component.is_empty()
            && let Some(problem) = crate::subject::problem(&component)
        {
            return self.fail(Error::invalid("component", &component, problem.reason()));
        }
        self.component = component;
        self
    }

    /// The version (startup, alive; the version upgraded from for upgraded).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The version upgraded to (upgraded).
    pub fn new_version(mut self, new_version: impl Into<String>) -> Self {
        self.new_version = new_version.into();
        self
    }

    /// The Governor's name (governor).
    pub fn governor(mut self, governor: impl Into<String>) -> Self {
        self.governor = governor.into();
        self
    }

    /// The slot's sequence number (governor).
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.sequence = Some(sequence);
        self
    }

    /// What happened to the slot (governor). [`GovernorEventType::Other`] is refused.
    pub fn governor_event(mut self, event_type: GovernorEventType) -> Self {
        if let GovernorEventType::Other(stage) = &event_type {
            let error = Error::invalid(
                "event_type",
                stage,
                "expected enter, exit, timeouts or eviction",
            );
            return self.fail(error);
        }
        self.governor_event = Some(event_type);
        self
    }

    /// Replaces the fresh UUID v4 id, e.g. to re-send a known event. Without the `id`
    /// feature an event has no id unless given one here, and [`build`](Self::build) says so.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Replaces the current time, in unix seconds.
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The event, or the first problem: an invalid value given, or a field its type
    /// requires left out.
    pub fn build(self) -> Result<Event, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        // Every event needs an identity and a component: without a component it has no
        // subject and cannot be published.
        let own: &[(&str, &str)] = match self.event_type {
            EventType::Startup | EventType::Alive => &[("version", &self.version)],
            EventType::Shutdown | EventType::Provisioned => &[],
            EventType::Governor => &[("governor", &self.governor)],
            EventType::Upgraded => &[
                ("version", &self.version),
                ("new_version", &self.new_version),
            ],
        };
        let common = [
            ("identity", &*self.identity),
            ("component", &*self.component),
        ];
        if let Some((field, _)) = common.iter().chain(own).find(|(_, value)| value.is_empty()) {
            return Err(Error::missing(field));
        }
        let kind = match self.event_type {
            EventType::Startup => EventKind::Startup {
                version: self.version.into(),
            },
            EventType::Shutdown => EventKind::Shutdown,
            EventType::Provisioned => EventKind::Provisioned,
            EventType::Alive => EventKind::Alive {
                version: self.version.into(),
            },
            EventType::Governor => EventKind::Governor {
                governor: self.governor.into(),
                // Choria's governor events default the sequence to 0 ("no slot number").
                sequence: self.sequence.unwrap_or(0),
                event_type: self
                    .governor_event
                    .ok_or_else(|| Error::missing("event_type"))?,
            },
            EventType::Upgraded => EventKind::Upgraded {
                version: self.version.into(),
                new_version: self.new_version.into(),
            },
        };
        #[cfg(feature = "id")]
        let id = self.id.unwrap_or_else(new_id);
        #[cfg(not(feature = "id"))]
        let id = self.id.ok_or_else(|| Error::missing("id"))?;
        Ok(Event {
            id: id.into(),
            identity: self.identity.into(),
            component: self.component.into(),
            timestamp: self.timestamp.unwrap_or_else(crate::clock::now),
            kind,
            extra: Vec::new(),
        })
    }
}

/// A fresh UUID v4, as Choria gives every new event.
#[cfg(feature = "id")]
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(identity: &str) -> Result<Event, Error> {
        Event::builder(EventType::Alive)
            .identity(identity)
            .component("server")
            .version("0.29.4")
            .build()
    }

    #[cfg(feature = "id")]
    #[test]
    fn a_new_event_gets_a_fresh_uuid_v4() {
        let (a, b) = (alive("n1").unwrap(), alive("n1").unwrap());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 36);
        assert_eq!(&a.id()[14..15], "4");
    }

    // `cargo test -p lifecycle-core --no-default-features --lib without_the_id_feature`
    #[cfg(not(feature = "id"))]
    #[test]
    fn without_the_id_feature_a_new_event_needs_an_id() {
        assert_eq!(
            alive("n1").unwrap_err().to_string(),
            "missing required field 'id'"
        );
        assert_eq!(
            Event::builder(EventType::Alive)
                .id("6b0b2a6e-1f0e-4c1a-9d2e-000000000007")
                .identity("n1")
                .component("server")
                .version("0.29.4")
                .build()
                .unwrap()
                .id(),
            "6b0b2a6e-1f0e-4c1a-9d2e-000000000007"
        );
    }

    #[test]
    fn identities_with_control_characters_are_refused() {
        let reason = "an identity cannot hold control characters, U+2028, U+2029 or \
                      bidirectional overrides";
        for identity in [
            "web1\u{1b}[2J",
            "web1\r\n[alive] forged",
            "web1\n",
            "web1\t",
            "\0",
            "web1\u{7f}",
            "web1\u{9b}",
            "web1\u{2028}",
            "web1\u{202e}",
            "web1\u{2066}",
        ] {
            let err = alive(identity).expect_err(identity);
            assert_eq!(
                err.to_string(),
                format!("invalid identity '{identity}': {reason}")
            );
            assert!(matches!(
                err.kind(),
                crate::ErrorKind::InvalidValue { field, value, .. }
                    if field == "identity" && value == identity
            ));
        }
    }

    #[test]
    fn ordinary_identities_are_kept() {
        for identity in [
            "node1.example.net",
            "web-01.prod",
            "CN=node1,O=Example",
            "nöde.example.net",
            "with space",
        ] {
            assert_eq!(alive(identity).unwrap().identity(), identity);
        }
    }
}
