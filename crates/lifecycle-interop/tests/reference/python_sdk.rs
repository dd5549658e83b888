//! Choria's own events reach a receiver no one here wrote, the Python `cloudevents` SDK,
//! with every attribute as Choria sends it, in both HTTP modes.

use std::time::Duration;

use lifecycle_cloudevents::{Forwarder, Mode};
use lifecycle_core::{AnyEvent, parse};
use lifecycle_testsupport::CloudEventsReceiver;
use serde_json::Value;

use crate::reference_files;

/// Each reference event once (the Choria-format and CloudEvents files hold the same events).
fn events() -> Vec<AnyEvent> {
    let mut seen = std::collections::HashSet::new();
    let mut events = Vec::new();
    for file in reference_files() {
        let event = parse(&std::fs::read(&file).unwrap()).unwrap().into_event();
        if seen.insert(event.id().to_owned()) {
            events.push(event);
        }
    }
    assert!(events.len() >= 7, "{} distinct events", events.len());
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_reads_choria_events_in_both_modes() {
    let sent = events();
    for mode in [Mode::Binary, Mode::Structured] {
        let receiver = CloudEventsReceiver::start();
        let forwarder = Forwarder::new(&receiver.url(), mode).unwrap();
        for event in &sent {
            tokio::time::timeout(Duration::from_secs(30), forwarder.send(event))
                .await
                .expect("an attempt took more than 30 s")
                .unwrap_or_else(|e| panic!("{mode} {}: {e}", event.id()));
        }
        let received = receiver.received();
        assert_eq!(received.len(), sent.len(), "{mode}: {received:#?}");
        for (line, event) in received.iter().zip(&sent) {
            let got: Value = serde_json::from_str(line).unwrap();
            let what = format!("{mode} {}", event.id());
            assert_eq!(got["id"], event.id(), "{what}");
            assert_eq!(got["source"], "io.choria.lifecycle", "{what}");
            assert_eq!(got["type"], event.protocol().as_ref(), "{what}");
            assert_eq!(got["subject"], event.identity().trim(), "{what}");
            assert_eq!(got["time_unix"], event.timestamp(), "{what}");
            assert_eq!(got["datacontenttype"], "application/json", "{what}");
            let data: Value = serde_json::from_slice(&event.to_json()).unwrap();
            assert_eq!(got["data"], data, "{what}");
            let back = parse(&serde_json::to_vec(&got["data"]).unwrap()).unwrap();
            assert_eq!(back.event(), event, "{what}");
        }
    }
}
