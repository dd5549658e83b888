//! Interoperability with a receiver no one here wrote: the Python `cloudevents` SDK parses
//! every request with its own `from_http`, in binary and structured mode, and every field
//! arrives as sent.

use std::time::Duration;

use lifecycle_cloudevents::{Forwarder, Mode, to_cloudevent};
use lifecycle_core::{AnyEvent, Event, EventType, GovernorEventType, parse};
use lifecycle_testsupport::CloudEventsReceiver;
use serde_json::Value;

fn events() -> Vec<AnyEvent> {
    let mut events: Vec<AnyEvent> = EventType::ALL
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            Event::builder(t)
                .identity(format!(" node{i}.example.net\u{a0}"))
                .component("server")
                .version("0.28.0")
                .new_version("0.29.4")
                .governor("PUPPET")
                .sequence(10)
                .governor_event(GovernorEventType::Enter)
                .timestamp(1_700_000_000 + i as i64)
                .build()
                .unwrap()
                .into()
        })
        .collect();
    for json in [
        r#"{"protocol":"io.choria.machine.v1.transition","identity":"m1.example.net","id":"a1b2c3","version":"1.0.0","timestamp":1700000100,"machine":"deploy","transition":"go","from_state":"idle","to_state":"running"}"#,
        r#"{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"m2.example.net","id":"d4e5f6","version":"1.0.0","timestamp":1700000200,"type":"exec","machine":"deploy","name":"check","command":"/bin/true","previous_outcome":"success","previous_run_time":1500000}"#,
    ] {
        events.push(parse(json.as_bytes()).unwrap().into_event());
    }
    // And the project's example events (Choria's bytes: the interoperability suite checks it).
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples");
    for example in [
        "lifecycle/v1/startup.json",
        "lifecycle/v1/shutdown.json",
        "lifecycle/v1/provisioned.json",
        "lifecycle/v1/upgraded.json",
        "lifecycle/v1/governor.exit.json",
        "cloudevents/v1/lifecycle.json",
    ] {
        let bytes = std::fs::read(examples.join(example)).unwrap();
        events.push(parse(&bytes).unwrap().into_event());
    }
    events
}

/// Sends each event once, in order.
async fn forward(receiver: &CloudEventsReceiver, mode: Mode, events: &[AnyEvent]) {
    let forwarder = Forwarder::new(&receiver.url(), mode).unwrap();
    for event in events {
        tokio::time::timeout(Duration::from_secs(30), forwarder.send(event))
            .await
            .expect("an attempt took more than 30 s")
            .unwrap_or_else(|e| panic!("{}: {e}", event.id()));
    }
}

fn check(received: &[String], sent: &[AnyEvent], mode: Mode) {
    assert_eq!(received.len(), sent.len(), "{mode}: {received:#?}");
    let mut ids = std::collections::HashSet::new();
    for (line, event) in received.iter().zip(sent) {
        let got: Value = serde_json::from_str(line).unwrap();
        let what = format!("{mode} {}", event.protocol());
        assert_eq!(got["mode"], mode.as_str(), "{what}");
        assert_eq!(got["specversion"], "1.0", "{what}");
        assert_eq!(got["type"], event.protocol().as_ref(), "{what}");
        let source = match event {
            AnyEvent::Lifecycle(_) => "io.choria.lifecycle",
            AnyEvent::Machine(_) => "io.choria.machine",
        };
        assert_eq!(got["source"], source, "{what}");
        assert_eq!(got["subject"], event.identity().trim(), "{what}");
        assert_eq!(got["time_unix"], event.timestamp(), "{what}");
        let id = got["id"].as_str().unwrap();
        match event {
            AnyEvent::Lifecycle(e) => assert_eq!(id, e.id(), "{what}"),
            AnyEvent::Machine(_) => {
                assert_eq!(id.len(), 36, "{what}: a fresh UUID, got {id}");
                assert_ne!(id, event.id(), "{what}");
            }
        }
        assert!(ids.insert(id.to_owned()), "{what}: id {id} twice");
        assert_eq!(got["datacontenttype"], "application/json", "{what}");
        let data: Value = serde_json::from_slice(&event.to_json()).unwrap();
        assert_eq!(got["data"], data, "{what}");
        // What the Python SDK read is the same event to us.
        let back = parse(&serde_json::to_vec(&got["data"]).unwrap()).unwrap();
        assert_eq!(back.event(), event, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_reads_every_field_in_both_modes() {
    let sent = events();
    for mode in [Mode::Binary, Mode::Structured] {
        let receiver = CloudEventsReceiver::start();
        forward(&receiver, mode, &sent).await;
        check(&receiver.received(), &sent, mode);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_transient_and_a_machine_event_converted_once_keeps_its_id() {
    let receiver = CloudEventsReceiver::start_failing(2);
    let machine = events()
        .into_iter()
        .find(|e| e.as_machine().is_some())
        .unwrap();
    let forwarder = Forwarder::new(&receiver.url(), Mode::Structured).unwrap();
    // Converted once, as the engine's handler prepares it once: every attempt the same.
    let cloudevent = to_cloudevent(&machine).unwrap();
    for _ in 0..2 {
        let failure = forwarder.attempt(cloudevent.clone()).await.unwrap_err();
        assert!(failure.is_transient());
        assert_eq!(failure.to_string(), "receiver answered HTTP 503");
    }
    forwarder.attempt(cloudevent).await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    check(&received, &[machine], Mode::Structured);
    let got: Value = serde_json::from_str(&received[0]).unwrap();
    let refused: Vec<Value> = receiver
        .refused()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(refused.len(), 2);
    for attempt in refused {
        assert_eq!(
            attempt["id"], got["id"],
            "every attempt carries the same id"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_receiver_is_a_transient_failure() {
    let mut receiver = CloudEventsReceiver::start();
    receiver.stop();
    let forwarder = Forwarder::new(&receiver.url(), Mode::Binary).unwrap();
    let failure = forwarder
        .attempt(to_cloudevent(&events().remove(0)).unwrap())
        .await
        .unwrap_err();
    assert!(failure.is_transient(), "{failure}");
    assert!(
        failure
            .to_string()
            .starts_with("HTTP request to the receiver failed: "),
        "{failure}"
    );
}
