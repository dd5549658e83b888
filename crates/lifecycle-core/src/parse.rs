use std::borrow::Cow;

use base64::Engine;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind};
use crate::event::{Event, EventKind, EventType, Extra, GovernorEventType};
use crate::fields::{self, Fields, Key, json_type};
use crate::machine::{ExecState, MachineEvent, TRANSITION_PROTOCOL, Transition, WatcherState};
use crate::rfc3339;

/// The largest input [`parse`] accepts: NATS' default maximum payload. Choria's events are
/// a few hundred bytes; anything near this is an attack or an accident.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The CloudEvents `source` of lifecycle events.
pub const LIFECYCLE_SOURCE: &str = "io.choria.lifecycle";
/// The CloudEvents `source` of machine events.
pub const MACHINE_SOURCE: &str = "io.choria.machine";

/// The two wire formats of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Choria's own JSON object (`{"protocol": ...}`).
    Choria,
    /// A CloudEvents 1.0 structured JSON object holding the Choria object as `data`.
    CloudEvents,
}

impl Format {
    /// `choria` or `cloudevents`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Choria => "choria",
            Format::CloudEvents => "cloudevents",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "choria" => Ok(Format::Choria),
            "cloudevents" => Ok(Format::CloudEvents),
            _ => Err(Error::invalid(
                "format",
                s,
                "expected choria or cloudevents",
            )),
        }
    }
}

/// A lifecycle event or a machine event.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyEvent {
    /// One of the six lifecycle events.
    Lifecycle(Event),
    /// An autonomous agent's event.
    Machine(MachineEvent),
}

/// An event as received: what it is, in which format it came, and the CloudEvents envelope
/// when that held anything a fresh one would not (order, extensions, a different id).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub(crate) format: Format,
    pub(crate) event: AnyEvent,
    pub(crate) envelope: Option<Box<Envelope>>,
}

/// A received CloudEvent's attributes in their order, with where `data` stood among them.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub(crate) attributes: Extra,
    pub(crate) data_at: usize,
}

impl Parsed {
    /// The format it arrived in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The event.
    pub fn event(&self) -> &AnyEvent {
        &self.event
    }

    /// The event, consumed.
    pub fn into_event(self) -> AnyEvent {
        self.event
    }

    /// A CloudEvents attribute as received (extensions included), raw JSON.
    pub fn attribute(&self, name: &str) -> Option<&RawValue> {
        self.envelope.as_ref().and_then(|envelope| {
            envelope
                .attributes
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, raw)| &**raw)
        })
    }
}

/// Parses one event in either format.
///
/// Choria's format is recognised by a `protocol` starting `io.choria.lifecycle`,
/// `choria:lifecycle` (the legacy spelling, normalised) or `io.choria.machine`; CloudEvents
/// by `specversion` "1.0" with a Choria `source`. The event inside a CloudEvent's `data`
/// decides its type. Everything else is an [`Error`] that names the problem.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Error> {
    let fields = object(bytes)?;
    if fields.get(Key::Protocol).is_some() {
        return Ok(Parsed {
            format: Format::Choria,
            event: choria(&fields)?,
            envelope: None,
        });
    }
    if fields.get(Key::SpecVersion).is_some() {
        return cloudevent(&fields);
    }
    Err(Error::new(ErrorKind::UnknownFormat))
}

impl Event {
    /// Parses a lifecycle event in either format; a machine event is an error.
    pub fn from_json(bytes: &[u8]) -> Result<Event, Error> {
        match parse(bytes)?.event {
            AnyEvent::Lifecycle(event) => Ok(event),
            AnyEvent::Machine(machine) => {
                Err(Error::new(ErrorKind::UnknownProtocol(machine.protocol())))
            }
        }
    }
}

fn object(bytes: &[u8]) -> Result<Fields<'_>, Error> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Error::new(ErrorKind::TooLarge { size: bytes.len() }));
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| bytes[i]) {
        Some(b'{') => Fields::from_slice(bytes),
        _ => match serde_json::from_slice::<IgnoredAny>(bytes) {
            Err(e) => Err(Error::json(e)),
            Ok(_) => {
                let text = std::str::from_utf8(bytes).unwrap_or_default().trim();
                Err(Error::new(ErrorKind::NotAnObject(json_type(text))))
            }
        },
    }
}

const COMMON: [Key; 5] = [
    Key::Protocol,
    Key::Id,
    Key::Identity,
    Key::Component,
    Key::Timestamp,
];

/// An event in Choria's format: `protocol` decides what it is.
fn choria(f: &Fields<'_>) -> Result<AnyEvent, Error> {
    let protocol = fields::string(f.get(Key::Protocol), "protocol")?;
    if let Some(event_type) = EventType::from_protocol(&protocol) {
        return lifecycle(f, event_type).map(AnyEvent::Lifecycle);
    }
    if protocol == TRANSITION_PROTOCOL {
        return transition(f).map(|t| AnyEvent::Machine(MachineEvent::Transition(t)));
    }
    let watcher = protocol
        .strip_prefix("io.choria.machine.watcher.")
        .and_then(|rest| rest.strip_suffix(".v1.state"))
        .filter(|kind| !kind.is_empty() && !kind.contains('.'));
    match watcher {
        Some(kind) => {
            watcher_state(f, kind).map(|w| AnyEvent::Machine(MachineEvent::WatcherState(w)))
        }
        None => Err(Error::new(ErrorKind::UnknownProtocol(protocol))),
    }
}

fn lifecycle(f: &Fields<'_>, event_type: EventType) -> Result<Event, Error> {
    let text = |key: Key| fields::string(f.get(key), key.name());
    let (kind, defined): (EventKind, &[Key]) = match event_type {
        EventType::Startup => (
            EventKind::Startup {
                version: text(Key::Version)?,
            },
            &[Key::Version],
        ),
        EventType::Shutdown => (EventKind::Shutdown, &[]),
        EventType::Provisioned => (EventKind::Provisioned, &[]),
        EventType::Alive => (
            EventKind::Alive {
                version: text(Key::Version)?,
            },
            &[Key::Version],
        ),
        EventType::Upgraded => (
            EventKind::Upgraded {
                version: text(Key::Version)?,
                new_version: text(Key::NewVersion)?,
            },
            &[Key::Version, Key::NewVersion],
        ),
        EventType::Governor => {
            let governor = text(Key::Governor)?;
            if governor.is_empty() {
                return Err(Error::missing("governor"));
            }
            let kind = EventKind::Governor {
                governor,
                sequence: fields::uint(f.get(Key::Sequence), "sequence")?,
                event_type: GovernorEventType::from_wire(&text(Key::EventType)?),
            };
            (kind, &[Key::Governor, Key::Sequence, Key::EventType])
        }
    };
    Ok(Event {
        id: text(Key::Id)?,
        identity: text(Key::Identity)?,
        component: text(Key::Component)?,
        timestamp: fields::int(f.get(Key::Timestamp), "timestamp")?,
        kind,
        extra: rest(f, defined),
    })
}

fn rest(f: &Fields<'_>, defined: &[Key]) -> Extra {
    let expected = 5 + defined.len() as u32;
    if f.len() == expected && !f.has_unknown() {
        return Vec::new(); // the common case: nothing else was sent
    }
    let all: Vec<Key> = COMMON.iter().chain(defined).copied().collect();
    f.rest(&all)
}

const MACHINE_COMMON: [Key; 5] = [
    Key::Protocol,
    Key::Identity,
    Key::Id,
    Key::Version,
    Key::Timestamp,
];

fn transition(f: &Fields<'_>) -> Result<Transition, Error> {
    let text = |key: Key| fields::string(f.get(key), key.name());
    Ok(Transition {
        identity: text(Key::Identity)?,
        id: text(Key::Id)?,
        version: text(Key::Version)?,
        timestamp: fields::int(f.get(Key::Timestamp), "timestamp")?,
        machine: text(Key::Machine)?,
        transition: text(Key::Transition)?,
        from_state: text(Key::FromState)?,
        to_state: text(Key::ToState)?,
        extra: rest_machine(
            f,
            &[Key::Machine, Key::Transition, Key::FromState, Key::ToState],
        ),
    })
}

fn watcher_state(f: &Fields<'_>, kind: &str) -> Result<WatcherState, Error> {
    let text = |key: Key| fields::string(f.get(key), key.name());
    let watcher_type = text(Key::Type)?;
    if !watcher_type.is_empty() && watcher_type != kind {
        return Err(Error::invalid(
            "type",
            &watcher_type,
            "does not match the watcher kind of the protocol",
        ));
    }
    let exec = if kind == "exec" {
        Some(ExecState {
            command: text(Key::Command)?,
            previous_outcome: text(Key::PreviousOutcome)?,
            previous_run_time: fields::int(f.get(Key::PreviousRunTime), "previous_run_time")?,
        })
    } else {
        None
    };
    let defined: &[Key] = if exec.is_some() {
        &[
            Key::Type,
            Key::Machine,
            Key::Name,
            Key::Command,
            Key::PreviousOutcome,
            Key::PreviousRunTime,
        ]
    } else {
        &[Key::Type, Key::Machine, Key::Name]
    };
    Ok(WatcherState {
        watcher_type: kind.to_owned(),
        identity: text(Key::Identity)?,
        id: text(Key::Id)?,
        version: text(Key::Version)?,
        timestamp: fields::int(f.get(Key::Timestamp), "timestamp")?,
        machine: text(Key::Machine)?,
        name: text(Key::Name)?,
        exec,
        extra: rest_machine(f, defined),
    })
}

fn rest_machine(f: &Fields<'_>, defined: &[Key]) -> Extra {
    let all: Vec<Key> = MACHINE_COMMON.iter().chain(defined).copied().collect();
    f.rest(&all)
}

/// A CloudEvents structured-mode object: check the envelope, then parse `data`.
fn cloudevent(f: &Fields<'_>) -> Result<Parsed, Error> {
    let spec = fields::string(f.get(Key::SpecVersion), "specversion")?;
    if spec != "1.0" {
        return Err(Error::new(ErrorKind::UnsupportedSpecVersion(spec)));
    }
    let source = fields::string(f.get(Key::Source), "source")?;
    if source.is_empty() {
        return Err(Error::missing("source"));
    }
    if source != LIFECYCLE_SOURCE && source != MACHINE_SOURCE {
        return Err(Error::new(ErrorKind::ForeignSource(source)));
    }
    if let Some(raw) = f.get(Key::DataContentType) {
        let content_type = fields::string(Some(raw), "datacontenttype")?;
        if !is_json(&content_type) {
            return Err(Error::new(ErrorKind::UnsupportedContentType(content_type)));
        }
    }
    let data: Cow<'_, [u8]> = match (f.get(Key::Data), f.get(Key::DataBase64)) {
        (Some(raw), _) if raw.get().starts_with('{') => Cow::Borrowed(raw.get().as_bytes()),
        // Some producers send the JSON document as a string.
        (Some(raw), _) if raw.get().starts_with('"') => {
            Cow::Owned(fields::string(Some(raw), "data")?.into_bytes())
        }
        (Some(raw), _) if raw.get() != "null" => {
            return Err(Error::wrong_type("data", "an object", json_type(raw.get())));
        }
        (_, Some(raw)) => {
            let encoded = fields::string(Some(raw), "data_base64")?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| Error::new(ErrorKind::InvalidBase64))?;
            Cow::Owned(decoded)
        }
        _ => return Err(Error::missing("data")),
    };
    let inner = object(&data).map_err(|e| e.within("data."))?;
    if inner.get(Key::Protocol).is_none() {
        return Err(Error::missing("data.protocol"));
    }
    let event = choria(&inner).map_err(|e| e.within("data."))?;
    let envelope = if is_canonical(f, &event) {
        None
    } else {
        Some(Box::new(envelope(f)))
    };
    Ok(Parsed {
        format: Format::CloudEvents,
        event,
        envelope,
    })
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// Whether the envelope is exactly what [`crate::CloudEventJson`] would write for this
/// event, so that nothing needs keeping to write it back.
fn is_canonical(f: &Fields<'_>, event: &AnyEvent) -> bool {
    let AnyEvent::Lifecycle(event) = event else {
        return false; // a machine CloudEvent's id is its own, so keep the envelope
    };
    let subject = event.identity.trim();
    let mut order = vec![Key::SpecVersion, Key::Id, Key::Source, Key::Type];
    if !subject.is_empty() {
        order.push(Key::Subject);
    }
    order.extend([Key::DataContentType, Key::Time, Key::Data]);
    f.len() as usize == order.len()
        && !f.has_unknown()
        && order
            .iter()
            .enumerate()
            .all(|(i, &key)| f.position(key) == Some(i as u32))
        && fields::str_eq(f.get(Key::Id), &event.id)
        && fields::str_eq(f.get(Key::Source), LIFECYCLE_SOURCE)
        && fields::str_eq(f.get(Key::Type), event.protocol())
        && (subject.is_empty() || fields::str_eq(f.get(Key::Subject), subject))
        && fields::str_eq(f.get(Key::DataContentType), "application/json")
        && fields::str_eq(f.get(Key::Time), &rfc3339::format_utc(event.timestamp))
        && f.get(Key::Data)
            .is_some_and(|raw| raw.get().starts_with('{'))
}

fn envelope(f: &Fields<'_>) -> Envelope {
    const DATA: [Key; 2] = [Key::Data, Key::DataBase64];
    let attributes = f.rest(&DATA);
    let data_at = DATA
        .iter()
        .filter_map(|&key| f.position(key))
        .min()
        .map_or(attributes.len(), |pos| f.count_before(pos, &DATA));
    Envelope {
        attributes,
        data_at,
    }
}
