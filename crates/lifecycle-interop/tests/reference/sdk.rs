//! Every event Choria itself produced, converted to the SDK's CloudEvent and back, is the
//! same event; and the SDK's structured JSON of it has the attributes Choria's has.

use cloudevents::AttributesReader;
use lifecycle_cloudevents::{from_cloudevent, to_cloudevent};
use lifecycle_core::{Format, parse};

use crate::reference_files;

#[test]
fn every_reference_event_survives_the_sdk() {
    for file in reference_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&file).unwrap();
        let parsed = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let event = parsed.event();

        let cloudevent = to_cloudevent(event).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&from_cloudevent(&cloudevent).unwrap(), event, "{name}");

        // Through the SDK's own JSON format and back, as a receiver would see it.
        let json = serde_json::to_vec(&cloudevent).unwrap();
        let decoded: cloudevents::Event = serde_json::from_slice(&json).unwrap();
        assert_eq!(decoded, cloudevent, "{name}: SDK JSON");
        assert_eq!(
            &from_cloudevent(&decoded).unwrap(),
            event,
            "{name}: SDK JSON"
        );
        // ... and our own parser reads the SDK's JSON as the same event.
        assert_eq!(parse(&json).unwrap().event(), event, "{name}: parse");

        // A CloudEvent Choria wrote has the same attributes as the SDK's.
        if parsed.format() == Format::CloudEvents {
            let original: cloudevents::Event = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{name}: the SDK cannot read Choria's JSON: {e}"));
            assert_eq!(original.id(), cloudevent.id(), "{name}: id");
            assert_eq!(original.source(), cloudevent.source(), "{name}: source");
            assert_eq!(original.ty(), cloudevent.ty(), "{name}: type");
            assert_eq!(original.subject(), cloudevent.subject(), "{name}: subject");
            assert_eq!(original.time(), cloudevent.time(), "{name}: time");
            assert_eq!(original.data(), cloudevent.data(), "{name}: data");
            assert_eq!(
                &from_cloudevent(&original).unwrap(),
                event,
                "{name}: Choria's"
            );
        }
    }
}
