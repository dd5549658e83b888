//! What parsing gives: an event ([`AnyEvent`]), the format it came in and, for a
//! CloudEvent, its envelope as received. The fast path (`fast`) and the general reader
//! (`parse`) both build it.

use serde_json::value::RawValue;

use crate::error::Error;
use crate::event::{Event, Extra};
use crate::machine::MachineEvent;

/// The largest input [`parse`](crate::parse) accepts: NATS' default maximum payload. Choria's events are
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
    /// An autonomous agent's event (boxed: it is rare and larger).
    Machine(Box<MachineEvent>),
}

impl From<Event> for AnyEvent {
    fn from(event: Event) -> Self {
        AnyEvent::Lifecycle(event)
    }
}

impl From<MachineEvent> for AnyEvent {
    fn from(event: MachineEvent) -> Self {
        AnyEvent::Machine(Box::new(event))
    }
}

/// An event as received: what it is, in which format it came, and the CloudEvents envelope
/// when that held anything a fresh one would not (order, extensions, a different id).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub(crate) format: Format,
    pub(crate) event: AnyEvent,
    pub(crate) envelope: Option<Box<Envelope>>,
}

/// A received CloudEvent's attributes in their order, with where and how its event stood
/// among them.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub(crate) attributes: Extra,
    pub(crate) data_at: usize,
    pub(crate) data_form: DataForm,
}

/// How a received CloudEvent carried its event, so that writing it back keeps a form its
/// `datacontenttype` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataForm {
    /// `data` holds the event object (a JSON content type, or none).
    Json,
    /// `data` is a string holding the event's JSON (another content type).
    Text,
    /// `data_base64` holds the event's JSON (another content type).
    Base64,
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
