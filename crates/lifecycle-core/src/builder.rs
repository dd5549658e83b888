use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::event::{Event, EventKind, EventType, GovernorEventType};

/// Builds a new [`Event`], refusing one that lacks what its type requires: every type an
/// identity and a component; startup and alive a version; governor a Governor name, a
/// sequence and one of the four stages; upgraded a version and a new version.
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

    /// The identity of the sending node.
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = identity.into();
        self
    }

    /// The component, e.g. `server`. It becomes the last token of the NATS subject, so it
    /// may not contain `.`, `*`, `>` or white space.
    pub fn component(mut self, component: impl Into<String>) -> Self {
        let component = component.into();
        if component
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace())
        {
            return self.fail(Error::invalid(
                "component",
                &component,
                "a NATS subject token may not contain '.', '*', '>' or white space",
            ));
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

    /// Replaces the fresh UUID v4 id, e.g. to re-send a known event.
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
                sequence: self.sequence.ok_or_else(|| Error::missing("sequence"))?,
                event_type: self
                    .governor_event
                    .ok_or_else(|| Error::missing("event_type"))?,
            },
            EventType::Upgraded => EventKind::Upgraded {
                version: self.version.into(),
                new_version: self.new_version.into(),
            },
        };
        Ok(Event {
            id: self.id.unwrap_or_else(new_id).into(),
            identity: self.identity.into(),
            component: self.component.into(),
            timestamp: self.timestamp.unwrap_or_else(now),
            kind,
            extra: Vec::new(),
        })
    }
}

/// A fresh UUID v4, as Choria gives every new event.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current unix time in seconds.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
