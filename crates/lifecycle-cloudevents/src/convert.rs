//! Our events to the SDK's `cloudevents::Event` and back.

use chrono::{DateTime, Utc};
use cloudevents::event::SpecVersion;
use cloudevents::{AttributesReader, Data, EventBuilder, EventBuilderV10};
use lifecycle_core::{AnyEvent, Format, LIFECYCLE_SOURCE, MACHINE_SOURCE};

use crate::error::{Error, ErrorKind};

/// The SDK's CloudEvent for `event`, as Choria sends it: `id` the event's id (a fresh UUID for
/// machine events), `source` `io.choria.lifecycle` or `io.choria.machine`, `type` the
/// protocol, `subject` the trimmed identity (absent when empty), `time` the timestamp, and the
/// Choria-format object as JSON `data`.
///
/// The SDK holds `data` as a `serde_json::Value`, so its keys come out sorted rather than in
/// Choria's order; the values are the same.
pub fn to_cloudevent(event: &AnyEvent) -> Result<cloudevents::Event, Error> {
    with_id(event, event.cloudevent().id())
}

/// [`to_cloudevent`] with the CloudEvent's `id` given (a machine event's is fresh each time).
pub(crate) fn with_id(event: &AnyEvent, id: &str) -> Result<cloudevents::Event, Error> {
    let source = match event {
        AnyEvent::Lifecycle(_) => LIFECYCLE_SOURCE,
        AnyEvent::Machine(_) => MACHINE_SOURCE,
    };
    let data: serde_json::Value = serde_json::from_slice(&event.to_json())
        .map_err(|e| Error::with_source(ErrorKind::Sdk, e))?;
    let time = DateTime::<Utc>::from_timestamp(event.timestamp(), 0).ok_or_else(|| {
        Error::with_source(
            ErrorKind::Sdk,
            format!("timestamp {} is out of range", event.timestamp()),
        )
    })?;
    let mut builder = EventBuilderV10::new()
        .id(id)
        .source(source)
        .ty(event.protocol().into_owned())
        .time(time)
        .data("application/json", data);
    let subject = event.identity().trim();
    if !subject.is_empty() {
        builder = builder.subject(subject);
    }
    builder
        .build()
        .map_err(|e| Error::with_source(ErrorKind::Sdk, e))
}

/// Our event from the SDK's CloudEvent: spec version 1.0, a Choria `source`, and `data`
/// holding a Choria-format event, as JSON or, whatever `datacontenttype` says, as a string or
/// bytes (as Choria's SDK reads a non-JSON content type: `data` holds the event's bytes).
/// As everywhere in this project, the event inside `data` decides the type.
pub fn from_cloudevent(event: &cloudevents::Event) -> Result<AnyEvent, Error> {
    if event.specversion() != SpecVersion::V10 {
        return Err(Error::new(ErrorKind::UnsupportedSpecVersion(
            event.specversion().to_string(),
        )));
    }
    let source = event.source().as_str();
    if source != LIFECYCLE_SOURCE && source != MACHINE_SOURCE {
        return Err(Error::new(ErrorKind::ForeignSource(source.to_owned())));
    }
    let bytes = match event.data() {
        None => return Err(Error::new(ErrorKind::MissingData)),
        Some(Data::Json(value)) => {
            serde_json::to_vec(value).map_err(|e| Error::with_source(ErrorKind::NotAnEvent, e))?
        }
        Some(Data::String(text)) => text.as_bytes().to_vec(),
        Some(Data::Binary(bytes)) => bytes.clone(),
    };
    let parsed =
        lifecycle_core::parse(&bytes).map_err(|e| Error::with_source(ErrorKind::NotAnEvent, e))?;
    if parsed.format() != Format::Choria {
        return Err(Error::with_source(
            ErrorKind::NotAnEvent,
            "data holds another CloudEvent, not a Choria-format event",
        ));
    }
    Ok(parsed.into_event())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle_core::{Event, EventType, MachineEvent};

    fn alive(identity: &str) -> AnyEvent {
        Event::builder(EventType::Alive)
            .identity(identity)
            .component("server")
            .version("0.29.4")
            .timestamp(1_700_000_000)
            .build()
            .unwrap()
            .into()
    }

    #[test]
    fn attributes_are_choria_ones() {
        let event = alive("  node1.example.net ");
        let ce = to_cloudevent(&event).unwrap();
        assert_eq!(ce.id(), event.id());
        assert_eq!(ce.source().as_str(), "io.choria.lifecycle");
        assert_eq!(ce.ty(), "io.choria.lifecycle.v1.alive");
        assert_eq!(ce.subject(), Some("node1.example.net"));
        assert_eq!(ce.datacontenttype(), Some("application/json"));
        assert_eq!(ce.time().unwrap().to_rfc3339(), "2023-11-14T22:13:20+00:00");
        assert_eq!(from_cloudevent(&ce).unwrap(), event);
    }

    #[test]
    fn blank_identity_has_no_subject() {
        let ce = to_cloudevent(&alive("  ")).unwrap();
        assert_eq!(ce.subject(), None);
    }

    #[test]
    fn machine_events_round_trip() {
        let bytes = br#"{"protocol":"io.choria.machine.v1.transition","identity":"n1.example.net","id":"a1b2","version":"1.0.0","timestamp":1700000000,"machine":"deploy","transition":"go","from_state":"idle","to_state":"running"}"#;
        let event = lifecycle_core::parse(bytes).unwrap().into_event();
        assert!(matches!(
            event.as_machine(),
            Some(MachineEvent::Transition(_))
        ));
        let ce = to_cloudevent(&event).unwrap();
        assert_eq!(ce.source().as_str(), "io.choria.machine");
        assert_eq!(ce.ty(), "io.choria.machine.v1.transition");
        assert_ne!(ce.id(), "a1b2", "a machine CloudEvent has its own id");
        assert_eq!(from_cloudevent(&ce).unwrap(), event);
    }

    fn foreign(source: &str, data: Option<Data>) -> cloudevents::Event {
        let mut builder = EventBuilderV10::new()
            .id("1")
            .source(source)
            .ty("com.example.thing");
        if let Some(data) = data {
            builder = builder.data("application/json", data);
        }
        builder.build().unwrap()
    }

    #[test]
    fn foreign_cloudevents_are_typed_errors() {
        let cases: Vec<(cloudevents::Event, ErrorKind)> = vec![
            (
                foreign("https://example.com", None),
                ErrorKind::ForeignSource("https://example.com".into()),
            ),
            (foreign(LIFECYCLE_SOURCE, None), ErrorKind::MissingData),
            (
                foreign(LIFECYCLE_SOURCE, Some(serde_json::json!({"a": 1}).into())),
                ErrorKind::NotAnEvent,
            ),
            (
                foreign(LIFECYCLE_SOURCE, Some(Data::String("hello".into()))),
                ErrorKind::NotAnEvent,
            ),
            (
                {
                    let mut e = foreign(LIFECYCLE_SOURCE, None);
                    e.set_data("text/plain", Data::String("x".into()));
                    e
                },
                ErrorKind::NotAnEvent,
            ),
        ];
        for (event, kind) in cases {
            let error = from_cloudevent(&event).unwrap_err();
            assert_eq!(error.kind(), &kind, "{error}");
        }
        let error = from_cloudevent(&foreign("https://example.com", None)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "CloudEvent source 'https://example.com' is not a Choria one (io.choria.lifecycle or io.choria.machine)"
        );
    }

    #[test]
    fn data_as_string_or_bytes_is_accepted() {
        let event = alive("n1");
        for data in [
            Data::String(String::from_utf8(event.to_json()).unwrap()),
            Data::Binary(event.to_json()),
        ] {
            // With another content type, data holds the event's bytes, as Choria's SDK reads it.
            for content_type in ["application/json", "text/plain", "application/octet-stream"] {
                let mut ce = to_cloudevent(&event).unwrap();
                ce.set_data(content_type, data.clone());
                assert_eq!(from_cloudevent(&ce).unwrap(), event, "{content_type}");
            }
        }
    }
}
