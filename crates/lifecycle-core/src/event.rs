use std::fmt;
use std::str::FromStr;

use compact_str::CompactString;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind};
use crate::id::Id;
use crate::subject::LIFECYCLE_EVENT_PREFIX;

/// The six kinds of lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A component started.
    Startup,
    /// A component is shutting down.
    Shutdown,
    /// A component was provisioned.
    Provisioned,
    /// A component is still running (sent at intervals).
    Alive,
    /// A component entered, left or failed to get a Governor slot.
    Governor,
    /// A component upgraded itself.
    Upgraded,
}

impl EventType {
    /// Every lifecycle event type, in Choria's order.
    pub const ALL: [EventType; 6] = [
        EventType::Startup,
        EventType::Shutdown,
        EventType::Provisioned,
        EventType::Alive,
        EventType::Governor,
        EventType::Upgraded,
    ];

    /// The name used in subjects and display lines, e.g. `alive`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Startup => "startup",
            EventType::Shutdown => "shutdown",
            EventType::Provisioned => "provisioned",
            EventType::Alive => "alive",
            EventType::Governor => "governor",
            EventType::Upgraded => "upgraded",
        }
    }

    /// The protocol written on the wire, e.g. `io.choria.lifecycle.v1.alive`.
    pub fn protocol(self) -> &'static str {
        match self {
            EventType::Startup => "io.choria.lifecycle.v1.startup",
            EventType::Shutdown => "io.choria.lifecycle.v1.shutdown",
            EventType::Provisioned => "io.choria.lifecycle.v1.provisioned",
            EventType::Alive => "io.choria.lifecycle.v1.alive",
            EventType::Governor => "io.choria.lifecycle.v1.governor",
            EventType::Upgraded => "io.choria.lifecycle.v1.upgraded",
        }
    }

    /// The type named by a protocol, in the current (`io.choria.lifecycle.v1.<type>`) or
    /// legacy (`choria:lifecycle:<type>:1`) spelling.
    pub fn from_protocol(protocol: &str) -> Option<EventType> {
        let name = protocol
            .strip_prefix("io.choria.lifecycle.v1.")
            .or_else(|| {
                protocol
                    .strip_prefix("choria:lifecycle:")
                    .and_then(|rest| rest.strip_suffix(":1"))
            })?;
        name.parse().ok()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "event type",
                    s,
                    "expected startup, shutdown, provisioned, alive, governor or upgraded",
                )
            })
    }
}

/// What happened to a Governor slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GovernorEventType {
    /// A slot was obtained.
    Enter,
    /// A slot was vacated.
    Exit,
    /// No slot could be obtained in time.
    Timeouts,
    /// The holder was evicted from its slot.
    Eviction,
    /// A stage this crate does not know, kept as received (Choria shows "unknown stage").
    Other(String),
}

impl GovernorEventType {
    /// The wire value, e.g. `enter`.
    pub fn as_str(&self) -> &str {
        match self {
            GovernorEventType::Enter => "enter",
            GovernorEventType::Exit => "exit",
            GovernorEventType::Timeouts => "timeouts",
            GovernorEventType::Eviction => "eviction",
            GovernorEventType::Other(s) => s,
        }
    }

    /// Maps a wire value, keeping unknown ones as [`GovernorEventType::Other`].
    pub fn from_wire(s: &str) -> GovernorEventType {
        match s {
            "enter" => GovernorEventType::Enter,
            "exit" => GovernorEventType::Exit,
            "timeouts" => GovernorEventType::Timeouts,
            "eviction" => GovernorEventType::Eviction,
            other => GovernorEventType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for GovernorEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses one of the four known stages; anything else is an error.
impl FromStr for GovernorEventType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match GovernorEventType::from_wire(s) {
            GovernorEventType::Other(_) => Err(Error::invalid(
                "event_type",
                s,
                "expected enter, exit, timeouts or eviction",
            )),
            known => Ok(known),
        }
    }
}

/// The fields particular to each event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A component started at `version`.
    Startup {
        /// The component's version.
        version: CompactString,
    },
    /// A component is shutting down.
    Shutdown,
    /// A component was provisioned.
    Provisioned,
    /// A component running `version` is alive.
    Alive {
        /// The component's version.
        version: CompactString,
    },
    /// A Governor slot changed hands.
    Governor {
        /// The Governor's name.
        governor: CompactString,
        /// The slot's sequence number (0 when not known).
        sequence: u64,
        /// What happened.
        event_type: GovernorEventType,
    },
    /// A component upgraded from `version` to `new_version`.
    Upgraded {
        /// The version before the upgrade.
        version: CompactString,
        /// The version after the upgrade.
        new_version: CompactString,
    },
}

impl EventKind {
    /// The type of this kind.
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::Startup { .. } => EventType::Startup,
            EventKind::Shutdown => EventType::Shutdown,
            EventKind::Provisioned => EventType::Provisioned,
            EventKind::Alive { .. } => EventType::Alive,
            EventKind::Governor { .. } => EventType::Governor,
            EventKind::Upgraded { .. } => EventType::Upgraded,
        }
    }
}

/// JSON members an event carried that its type does not define, kept in the order received
/// so that re-serialising loses nothing. Names are stored inline up to 24 bytes: most need
/// no allocation.
pub(crate) type Extra = Vec<(CompactString, Box<RawValue>)>;

/// A Choria lifecycle event.
///
/// Create one with [`Event::builder`], or parse one with [`crate::parse`]. Its Choria JSON
/// form comes from `serde_json::to_vec(&event)`, its CloudEvents form from
/// [`Event::cloudevent`].
#[derive(Debug, Clone)]
pub struct Event {
    // Short strings are stored inline: most events then need one allocation, for the id.
    pub(crate) id: Id,
    pub(crate) identity: CompactString,
    pub(crate) component: CompactString,
    pub(crate) timestamp: i64,
    pub(crate) kind: EventKind,
    pub(crate) extra: Extra,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.identity == other.identity
            && self.component == other.component
            && self.timestamp == other.timestamp
            && self.kind == other.kind
            && extra_eq(&self.extra, &other.extra)
    }
}

pub(crate) fn extra_eq(a: &Extra, b: &Extra) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && va.get() == vb.get())
}

impl Event {
    /// Starts a new event of type `event_type`, with a fresh UUID v4 id and the current time.
    pub fn builder(event_type: EventType) -> crate::EventBuilder {
        crate::EventBuilder::new(event_type)
    }

    /// The type of the event.
    pub fn event_type(&self) -> EventType {
        self.kind.event_type()
    }

    /// The protocol on the wire (always the current spelling).
    pub fn protocol(&self) -> &'static str {
        self.event_type().protocol()
    }

    /// The unique id of the event.
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The identity of the node that sent it.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The component, e.g. `server`.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// When it happened, in unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The fields particular to the event's type.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// The version, for startup, alive and upgraded (the version upgraded from).
    pub fn version(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Startup { version }
            | EventKind::Alive { version }
            | EventKind::Upgraded { version, .. } => Some(version.as_str()),
            _ => None,
        }
    }

    /// The version upgraded to, for upgraded events.
    pub fn new_version(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Upgraded { new_version, .. } => Some(new_version.as_str()),
            _ => None,
        }
    }

    /// The Governor name, for governor events.
    pub fn governor(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Governor { governor, .. } => Some(governor.as_str()),
            _ => None,
        }
    }

    /// Members received that the event's type does not define, in the order received.
    pub fn extra(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.extra.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// The NATS subject, `choria.lifecycle.event.<type>.<component>`.
    pub fn subject(&self) -> Result<String, Error> {
        if self.component.is_empty() {
            return Err(Error::new(ErrorKind::NoSubject));
        }
        Ok(format!(
            "{LIFECYCLE_EVENT_PREFIX}{}.{}",
            self.event_type().as_str(),
            self.component
        ))
    }
}

/// The display line, identical to Choria's `String()`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (identity, component) = (&self.identity, &self.component);
        match &self.kind {
            EventKind::Startup { version } => {
                write!(f, "[startup] {identity}: {component} version {version}")
            }
            EventKind::Shutdown => write!(f, "[shutdown] {identity}: {component}"),
            EventKind::Provisioned => write!(f, "[provisioned] {identity}: {component}"),
            EventKind::Alive { version } => {
                write!(f, "[alive] {identity}: {component} version {version}")
            }
            EventKind::Upgraded {
                version,
                new_version,
            } => write!(
                f,
                "[upgraded] {identity}: {component} version {version} to {new_version}"
            ),
            EventKind::Governor {
                governor,
                sequence,
                event_type,
            } => {
                write!(f, "[governor] {identity}: ")?;
                match (event_type, sequence) {
                    (GovernorEventType::Enter, 0) => write!(f, "obtained slot on {governor}"),
                    (GovernorEventType::Enter, seq) => {
                        write!(f, "obtained slot {seq} on {governor}")
                    }
                    (GovernorEventType::Exit, 0) => write!(f, "vacated {governor}"),
                    (GovernorEventType::Exit, seq) => write!(f, "vacated slot {seq} on {governor}"),
                    (GovernorEventType::Timeouts, _) => {
                        write!(f, "failed to obtain a slot on {governor}")
                    }
                    (GovernorEventType::Eviction, 0) => write!(f, "evicted from {governor}"),
                    (GovernorEventType::Eviction, seq) => {
                        write!(f, "evicted from slot {seq} on {governor}")
                    }
                    (GovernorEventType::Other(_), _) => {
                        write!(f, "unknown stage on Governor {governor}")
                    }
                }
            }
        }
    }
}
