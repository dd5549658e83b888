use std::borrow::Cow;

use crate::base64;
use crate::error::{Error, ErrorKind};
use crate::event::{Event, EventKind, EventType, Extra, GovernorEventType};
use crate::machine::{ExecState, MachineEvent, TRANSITION_PROTOCOL, Transition, WatcherState};
use crate::parsed::{
    AnyEvent, DataForm, Envelope, Format, LIFECYCLE_SOURCE, MACHINE_SOURCE, MAX_EVENT_BYTES, Parsed,
};
use crate::reader::{self, Document, Fields, Key, Keys, Kind, Member, Reader};
use crate::rfc3339;

/// Parses one event in either format.
///
/// Choria's format is recognised by a `protocol` starting `io.choria.lifecycle`,
/// `choria:lifecycle` (the legacy spelling, normalised) or `io.choria.machine`; CloudEvents
/// by `specversion` "1.0" with a Choria `source`. The event inside a CloudEvent's `data`
/// decides its type. Everything else is an [`Error`] that names the problem.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Error> {
    let text = read_text(bytes)?;
    if let Some(parsed) = crate::fast::parse(text) {
        return Ok(parsed);
    }
    read(text, Reader::Scan)
}

/// Parses as [`parse`] does, but with serde_json reading every JSON object: the reference
/// that the tests and the fuzz target hold [`parse`] to. Not part of the API.
#[doc(hidden)]
pub fn parse_with_serde_json(bytes: &[u8]) -> Result<Parsed, Error> {
    read(read_text(bytes)?, Reader::SerdeJson)
}

/// Parses any layout: the general JSON reader.
pub(crate) fn read(text: &str, reader: Reader) -> Result<Parsed, Error> {
    let mut document = Document::new(text);
    document.read(reader)?;
    let top = &document.top;
    if top.get(Key::Protocol).is_some() {
        let event = choria(top)?;
        fits_in_a_cloudevent(&event)?;
        return Ok(Parsed {
            format: Format::Choria,
            event,
            envelope: None,
        });
    }
    if top.get(Key::SpecVersion).is_some() {
        return cloudevent(&document, reader);
    }
    Err(Error::new(ErrorKind::UnknownFormat))
}

/// Refuses an event whose members nest so deep that, as a CloudEvent's `data` (one level
/// further down), the document would pass the reader's limit: everything accepted can be
/// written in either format and read back. (Inside a CloudEvent, `data` already fits.)
fn fits_in_a_cloudevent(event: &AnyEvent) -> Result<(), Error> {
    let extra = match event {
        AnyEvent::Lifecycle(event) => &event.extra,
        AnyEvent::Machine(machine) => match &**machine {
            MachineEvent::Transition(t) => &t.extra,
            MachineEvent::WatcherState(w) => &w.extra,
        },
    };
    // The event object is one level and `data` sits inside the envelope: two levels fewer.
    for (name, value) in extra {
        if reader::deeper_than(value.get(), reader::MAX_DEPTH - 2).is_some() {
            return Err(Error::invalid(
                name,
                "(nested value)",
                "nests deeper than 126 levels, too deep for the event to be carried in a CloudEvent",
            ));
        }
    }
    Ok(())
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

/// The input as text: JSON is UTF-8, and no larger than [`MAX_EVENT_BYTES`].
fn read_text(bytes: &[u8]) -> Result<&str, Error> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Error::new(ErrorKind::TooLarge { size: bytes.len() }));
    }
    std::str::from_utf8(bytes)
        .map_err(|e| reader::at_position(bytes, e.valid_up_to(), "invalid UTF-8"))
}

const COMMON: Keys = Keys::of(&[
    Key::Protocol,
    Key::Id,
    Key::Identity,
    Key::Component,
    Key::Timestamp,
]);

/// An event in Choria's format: `protocol` decides what it is.
fn choria(f: &Fields<'_>) -> Result<AnyEvent, Error> {
    let protocol = reader::text(f.get(Key::Protocol), "protocol")?;
    if let Some(event_type) = EventType::from_protocol(&protocol) {
        return lifecycle(f, event_type).map(AnyEvent::Lifecycle);
    }
    if protocol == TRANSITION_PROTOCOL {
        return transition(f).map(|t| AnyEvent::Machine(Box::new(MachineEvent::Transition(t))));
    }
    let watcher = protocol
        .strip_prefix("io.choria.machine.watcher.")
        .and_then(|rest| rest.strip_suffix(".v1.state"))
        .filter(|kind| !kind.is_empty() && !kind.contains('.'));
    match watcher {
        Some(kind) => watcher_state(f, kind)
            .map(|w| AnyEvent::Machine(Box::new(MachineEvent::WatcherState(w)))),
        None => Err(Error::new(ErrorKind::UnknownProtocol(
            protocol.into_owned(),
        ))),
    }
}

fn lifecycle(f: &Fields<'_>, event_type: EventType) -> Result<Event, Error> {
    let text = |key: Key| reader::compact(f.get(key), key.name());
    let (kind, defined) = match event_type {
        EventType::Startup => (
            EventKind::Startup {
                version: text(Key::Version)?,
            },
            const { Keys::of(&[Key::Version]) },
        ),
        EventType::Shutdown => (EventKind::Shutdown, Keys::default()),
        EventType::Provisioned => (EventKind::Provisioned, Keys::default()),
        EventType::Alive => (
            EventKind::Alive {
                version: text(Key::Version)?,
            },
            const { Keys::of(&[Key::Version]) },
        ),
        EventType::Upgraded => (
            EventKind::Upgraded {
                version: text(Key::Version)?,
                new_version: text(Key::NewVersion)?,
            },
            const { Keys::of(&[Key::Version, Key::NewVersion]) },
        ),
        EventType::Governor => {
            let governor = text(Key::Governor)?;
            if governor.is_empty() {
                return Err(Error::missing("governor"));
            }
            let kind = EventKind::Governor {
                governor,
                sequence: reader::uint(f.get(Key::Sequence), "sequence")?,
                event_type: GovernorEventType::from_wire(&text(Key::EventType)?),
            };
            (
                kind,
                const { Keys::of(&[Key::Governor, Key::Sequence, Key::EventType]) },
            )
        }
    };
    Ok(Event {
        // Borrowed first: an id is longer than a `CompactString` holds inline.
        id: (&*reader::text(f.get(Key::Id), "id")?).into(),
        identity: text(Key::Identity)?,
        component: text(Key::Component)?,
        timestamp: reader::int(f.get(Key::Timestamp), "timestamp")?,
        kind,
        extra: f.rest(COMMON.and(defined)),
    })
}

const MACHINE_COMMON: Keys = Keys::of(&[
    Key::Protocol,
    Key::Identity,
    Key::Id,
    Key::Version,
    Key::Timestamp,
]);

fn transition(f: &Fields<'_>) -> Result<Transition, Error> {
    let text = |key: Key| reader::string(f.get(key), key.name());
    Ok(Transition {
        identity: text(Key::Identity)?,
        id: text(Key::Id)?,
        version: text(Key::Version)?,
        timestamp: reader::int(f.get(Key::Timestamp), "timestamp")?,
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
    let text = |key: Key| reader::string(f.get(key), key.name());
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
            previous_run_time: reader::int(f.get(Key::PreviousRunTime), "previous_run_time")?,
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
        timestamp: reader::int(f.get(Key::Timestamp), "timestamp")?,
        machine: text(Key::Machine)?,
        name: text(Key::Name)?,
        exec,
        extra: rest_machine(f, defined),
    })
}

fn rest_machine(f: &Fields<'_>, defined: &[Key]) -> Extra {
    f.rest(MACHINE_COMMON.and(Keys::of(defined)))
}

/// The attributes CloudEvents 1.0 defines; every other top-level member is an extension.
const ATTRIBUTES: Keys = Keys::of(&[
    Key::SpecVersion,
    Key::Id,
    Key::Source,
    Key::Type,
    Key::Subject,
    Key::DataContentType,
    Key::DataSchema,
    Key::Time,
    Key::Data,
    Key::DataBase64,
]);

/// A CloudEvents structured-mode object: check the envelope, then parse `data`.
///
/// The envelope is read as Choria reads it: with the CloudEvents Go SDK v2
/// (`github.com/cloudevents/sdk-go/v2`, `event/event_unmarshal.go`, `readJsonFromIterator`
/// and `consumeData`), then `lifecycle.NewFromJSON` on the event's data bytes. Its rules:
/// - `id`, `type`, `subject`, `time` and `datacontenttype` are strings (null and "" read as
///   absent);
/// - `time`, when present, is RFC 3339 (`types.ParseTimestamp`, Go's `time.RFC3339Nano`);
/// - an extension attribute name is lower-case ASCII letters and digits
///   (`event/extensions.go`, `validateExtensionName`, and the CloudEvents 1.0 spec; the SDK
///   also lets upper-case letters through and lower-cases them, which we refuse rather
///   than write back a name the spec forbids);
/// - with a JSON `datacontenttype`, or none, `data` is the event object itself: a string
///   there is a JSON string, not an event;
/// - with another content type, `data` is a string holding the event's bytes;
/// - `data_base64` holds the event's bytes whatever the content type.
fn cloudevent(document: &Document<'_>, reader: Reader) -> Result<Parsed, Error> {
    let f = &document.top;
    let spec = reader::text(f.get(Key::SpecVersion), "specversion")?;
    if spec != "1.0" {
        return Err(Error::new(ErrorKind::UnsupportedSpecVersion(
            spec.into_owned(),
        )));
    }
    let source = reader::text(f.get(Key::Source), "source")?;
    if source != LIFECYCLE_SOURCE && source != MACHINE_SOURCE {
        if source.is_empty() {
            return Err(Error::missing("source"));
        }
        return Err(Error::new(ErrorKind::ForeignSource(source.into_owned())));
    }
    if !f.knows_only(ATTRIBUTES) || f.has_unknown() {
        let invalid = f
            .keys()
            .filter(|&key| !ATTRIBUTES.contains(key))
            .map(Key::name)
            .find(|name| !is_extension_name(name))
            .map(Cow::Borrowed)
            .or_else(|| f.unknown_names().find(|name| !is_extension_name(name)));
        if let Some(name) = invalid {
            return Err(Error::new(ErrorKind::InvalidAttributeName(
                name.into_owned(),
            )));
        }
    }
    let mut attributes = Attributes {
        id: reader::text(f.get(Key::Id), "id")?,
        source,
        event_type: reader::text(f.get(Key::Type), "type")?,
        subject: reader::text(f.get(Key::Subject), "subject")?,
        time: reader::text(f.get(Key::Time), "time")?,
        read_time: None,
        content_type: reader::text(f.get(Key::DataContentType), "datacontenttype")?,
    };
    let time = &attributes.time;
    if !time.is_empty() {
        let read = rfc3339::parse(time)
            .ok_or_else(|| Error::invalid("time", time, "not an RFC 3339 date-time"))?;
        attributes.read_time = Some(read);
    }
    let content_type = &attributes.content_type;
    // The usual type first: the general test splits and trims.
    let json = content_type.is_empty()
        || content_type == "application/json"
        || is_json_content_type(content_type);

    // Of `data` and `data_base64`, the one that came last counts, as a repeated key would.
    let present = |key| f.get(key).filter(|m: &Member<'_>| m.kind() != Kind::Null);
    let data = match (present(Key::Data), present(Key::DataBase64)) {
        (Some(data), Some(base64)) if base64.pos() > data.pos() => Data::Base64(base64),
        (Some(data), _) => Data::Data(data),
        (None, Some(base64)) => Data::Base64(base64),
        (None, None) => return Err(Error::missing("data")),
    };
    let (event, form) = match data {
        Data::Data(member) if json => match member.kind() {
            Kind::Object => (
                data_event(&*document.object(member, reader)?)?,
                DataForm::Json,
            ),
            kind => return Err(Error::wrong_type("data", "an object", kind.name())),
        },
        Data::Data(member) => match member.kind() {
            Kind::String => {
                let text = reader::text(Some(member), "data")?;
                (embedded(text.as_bytes(), reader)?, DataForm::Text)
            }
            kind => {
                return Err(Error::new(ErrorKind::DataNotText {
                    content_type: content_type.clone().into_owned(),
                    found: kind.name(),
                }));
            }
        },
        Data::Base64(member) => {
            let encoded = reader::text(Some(member), "data_base64")?;
            let decoded =
                base64::decode(&encoded).ok_or_else(|| Error::new(ErrorKind::InvalidBase64))?;
            // Written back as a `data` object when that is what its content type says.
            let form = if json {
                DataForm::Json
            } else {
                DataForm::Base64
            };
            (embedded(&decoded, reader)?, form)
        }
    };
    let envelope = if form == DataForm::Json && is_canonical(f, &attributes, &event) {
        None
    } else {
        Some(Box::new(envelope(f, form)))
    };
    Ok(Parsed {
        format: Format::CloudEvents,
        event,
        envelope,
    })
}

/// A CloudEvent's string attributes, decoded once.
struct Attributes<'a> {
    id: Cow<'a, str>,
    source: Cow<'a, str>,
    event_type: Cow<'a, str>,
    subject: Cow<'a, str>,
    time: Cow<'a, str>,
    /// `time` read: its unix seconds and nanoseconds.
    read_time: Option<(i64, u32)>,
    content_type: Cow<'a, str>,
}

/// Where a CloudEvent's event came from.
enum Data<'a> {
    Data(Member<'a>),
    Base64(Member<'a>),
}

/// Whether `name` may name a CloudEvents extension attribute: one or more lower-case ASCII
/// letters and digits.
fn is_extension_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The Choria-format event inside `data`; its errors name `data.<field>`.
fn data_event(inner: &Fields<'_>) -> Result<AnyEvent, Error> {
    if inner.get(Key::Protocol).is_none() {
        return Err(Error::missing("data.protocol"));
    }
    choria(inner).map_err(|e| e.within("data."))
}

/// An event carried as a string or as base64: its bytes hold the Choria object.
fn embedded(bytes: &[u8], reader: Reader) -> Result<AnyEvent, Error> {
    let inner = read_text(bytes)
        .and_then(|text| Fields::read(text, reader))
        .map_err(|e| e.within("data."))?;
    data_event(&inner)
}

/// Whether a CloudEvent's `datacontenttype` says its data is JSON: `application/json`,
/// `text/json` or any `+json` type, parameters (`; charset=utf-8`) allowed.
pub fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let suffix = essence
        .len()
        .checked_sub(5)
        .and_then(|at| essence.get(at..));
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("text/json")
        || suffix.is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
}

/// Whether the envelope is exactly what [`crate::CloudEventJson`] would write for this
/// event, so that nothing needs keeping to write it back.
fn is_canonical(f: &Fields<'_>, attributes: &Attributes<'_>, event: &AnyEvent) -> bool {
    let AnyEvent::Lifecycle(event) = event else {
        return false; // a machine CloudEvent's id is its own, so keep the envelope
    };
    let subject = event.identity.trim();
    let time = rfc3339::can_write(event.timestamp);
    // The members we write, in our order, each only when we write it.
    let written = [
        (Key::SpecVersion, true),
        (Key::Id, true),
        (Key::Source, true),
        (Key::Type, true),
        (Key::Subject, !subject.is_empty()),
        (Key::DataContentType, true),
        (Key::Time, time),
        (Key::Data, true),
    ];
    let mut at = 0;
    for (key, wanted) in written {
        match (wanted, f.position(key)) {
            (true, Some(pos)) if pos == at => at += 1,
            (false, None) => {}
            _ => return false,
        }
    }
    f.len() == at as usize
        && !f.has_unknown()
        && attributes.id.as_bytes() == event.id.as_bytes()
        && attributes.source == LIFECYCLE_SOURCE
        && attributes.event_type == event.protocol()
        && attributes.subject == subject
        && attributes.content_type == "application/json"
        && (!time
            || attributes.read_time.is_some_and(|read| {
                rfc3339::is_utc_parsed(&attributes.time, read, event.timestamp)
            }))
        && f.get(Key::Data).is_some_and(|m| m.kind() == Kind::Object)
}

fn envelope(f: &Fields<'_>, data_form: DataForm) -> Envelope {
    const DATA: [Key; 2] = [Key::Data, Key::DataBase64];
    let attributes = f.rest(Keys::of(&DATA));
    let data_at = DATA
        .iter()
        .filter_map(|&key| f.position(key))
        .min()
        .map_or(attributes.len(), |pos| f.count_before(pos, Keys::of(&DATA)));
    Envelope {
        attributes,
        data_at,
        data_form,
    }
}
