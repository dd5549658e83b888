//! Publishing and subscribing against a real nats-server.

mod common;

use std::collections::BTreeSet;

use async_nats::Subject;
use common::*;
use futures_util::StreamExt;
use lifecycle_core::{AnyEvent, EventType, Format, parse};
use lifecycle_nats::{ConnectOptions, Interest, ReceiveError};
use lifecycle_testsupport::{NatsServer, docker_check, started};

/// A plain async-nats subscriber sees every event on exactly its Choria subject, in both
/// formats, and the payload parses back to the event sent.
#[tokio::test(flavor = "multi_thread")]
async fn every_type_arrives_on_its_subject_in_both_formats() {
    let server = NatsServer::start();
    let plain = async_nats::connect(server.url()).await.unwrap();
    let mut everything = plain.subscribe(">").await.unwrap();
    plain.flush().await.unwrap();

    let connection = connect(&server).await;
    let events = one_of_each("node1.example.net", "server");
    for format in [Format::Choria, Format::CloudEvents] {
        let publisher = connection.publisher(format);
        assert_eq!(publisher.publish_all(&events).await.unwrap(), 6);
        publisher.flush().await.unwrap();
        for sent in &events {
            let message = within(60, "a published event", everything.next())
                .await
                .unwrap();
            let want = format!("choria.lifecycle.event.{}.server", sent.event_type());
            assert_eq!(message.subject, Subject::from(want));
            let parsed = parse(&message.payload).unwrap();
            assert_eq!(parsed.format(), format);
            assert_eq!(parsed.event(), &AnyEvent::Lifecycle(sent.clone()));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn type_and_component_filters_deliver_exactly_the_matching_events() {
    let (_server, connection) = started().await;
    let interest = Interest::default()
        .types([EventType::Alive, EventType::Upgraded])
        .components(["server", "broker"]);
    assert_eq!(
        interest.subjects().unwrap(),
        [
            "choria.lifecycle.event.alive.broker",
            "choria.lifecycle.event.alive.server",
            "choria.lifecycle.event.upgraded.broker",
            "choria.lifecycle.event.upgraded.server",
        ]
    );
    let mut filtered = connection.subscribe(&interest).await.unwrap();
    let mut all = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();

    let publisher = connection.publisher(Format::Choria);
    let mut sent = Vec::new();
    for component in ["server", "broker", "provisioner"] {
        sent.extend(one_of_each("n1", component));
    }
    publisher.publish_all(&sent).await.unwrap();
    publisher.flush().await.unwrap();

    let got = within(60, "all events", take(&mut all, sent.len())).await;
    assert_eq!(got.len(), 18);
    let matching: BTreeSet<String> = sent
        .iter()
        .filter(|e| matches!(e.event_type(), EventType::Alive | EventType::Upgraded))
        .filter(|e| e.component() != "provisioner")
        .map(|e| e.id().to_owned())
        .collect();
    assert_eq!(matching.len(), 4);
    let got = within(60, "filtered events", take(&mut filtered, 4)).await;
    let got: BTreeSet<String> = got
        .iter()
        .map(|r| r.parsed.event().id().to_owned())
        .collect();
    assert_eq!(got, matching);
    assert_quiet(&mut filtered).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_messages_are_reported_with_their_subject() {
    let (server, connection) = started().await;
    let mut events = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();
    let plain = async_nats::connect(server.url()).await.unwrap();
    plain
        .publish("choria.lifecycle.event.alive.server", "not json".into())
        .await
        .unwrap();
    plain.flush().await.unwrap();
    match within(60, "the invalid message", events.next()).await {
        Some(Err(ReceiveError::Invalid(invalid))) => {
            assert_eq!(
                invalid.subject.as_str(),
                "choria.lifecycle.event.alive.server"
            );
            assert_eq!(&invalid.payload[..], b"not json");
        }
        other => panic!("expected an invalid message, got {other:?}"),
    }
    // The subscription goes on after a bad message.
    let event = &one_of_each("n1", "server")[3];
    connection
        .publisher(Format::Choria)
        .publish(event)
        .await
        .unwrap();
    let got = within(60, "the next event", take(&mut events, 1)).await;
    assert_eq!(got[0].parsed.event(), &AnyEvent::Lifecycle(event.clone()));
}

#[tokio::test(flavor = "multi_thread")]
async fn machine_events_can_be_subscribed() {
    use lifecycle_core::{MachineEvent, Transition};
    let (_server, connection) = started().await;
    let interest = Interest {
        lifecycle: false,
        ..Interest::default().with_machine_events()
    };
    let mut events = connection.subscribe(&interest).await.unwrap();
    connection.client().flush().await.unwrap();
    let transition = AnyEvent::from(MachineEvent::Transition(Transition::new(
        "n1",
        "inst",
        "1.0.0",
        1_700_000_000,
        "Docker",
        "deploy",
        "absent",
        "deployed",
    )));
    let state = docker_check("n1", "inst", 1_700_000_000, "success", 1_500_000);
    let publisher = connection.publisher(Format::CloudEvents);
    publisher.publish_any(&transition).await.unwrap();
    publisher.publish_any(&state).await.unwrap();
    // A lifecycle event is not asked for.
    publisher
        .publish(&one_of_each("n1", "server")[0])
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let got = within(60, "machine events", take(&mut events, 2)).await;
    let subjects: BTreeSet<&str> = got.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(
        subjects,
        BTreeSet::from([
            "choria.machine.transition",
            "choria.machine.watcher.exec.state"
        ])
    );
    for received in &got {
        assert!(received.parsed.event() == &transition || received.parsed.event() == &state);
    }
    assert_quiet(&mut events).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_consumer_is_counted_not_silent() {
    let server = NatsServer::start();
    let options = ConnectOptions {
        subscription_capacity: Some(8),
        ..Default::default()
    };
    let connection = connect_with(&server, options).await;
    let events = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();
    let publisher = connect(&server).await.publisher(Format::Choria);
    let event = &one_of_each("n1", "server")[3];
    for _ in 0..200 {
        publisher.publish(event).await.unwrap();
    }
    publisher.flush().await.unwrap();
    within(60, "drops to be counted", async {
        while events.dropped() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(events.dropped() <= 192, "{}", events.dropped());
    assert_eq!(connection.dropped(), events.dropped());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_without_component_cannot_be_published() {
    let (_server, connection) = started().await;
    // The builder refuses such an event; one received from elsewhere can lack it.
    let event = lifecycle_core::Event::from_json(
        br#"{"protocol":"io.choria.lifecycle.v1.upgraded","id":"1","identity":"n1","timestamp":1,"version":"1","new_version":"2"}"#,
    )
    .unwrap();
    let err = connection
        .publisher(Format::Choria)
        .publish(&event)
        .await
        .unwrap_err();
    assert_eq!(
        lifecycle_core::ErrorChain(&err).to_string(),
        "cannot publish event: event has no component, so it has no NATS subject and cannot be published"
    );
}

/// A filter narrows the subjects (the server sends only alive events of `server`) and
/// decides about the rest on the client: only the versions at or above 0.29.10 arrive.
#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_subscription_passes_exactly_what_the_filter_passes() {
    use lifecycle_core::{Event, Filter};

    let (_server, connection) = started().await;
    let filter = Filter::parse("alive,component=server,.version>=0.29.10").unwrap();
    let mut subscription = connection
        .subscribe(&Interest::from_filter(&filter))
        .await
        .unwrap()
        .filtered(filter);
    connection.client().flush().await.unwrap();
    let publisher = connection.publisher(Format::Choria);
    let mut events = Vec::new();
    for (t, component, version) in [
        (EventType::Alive, "server", "0.29.9"),
        (EventType::Alive, "server", "0.29.10"),
        (EventType::Startup, "server", "0.30.0"),
        (EventType::Alive, "agent", "0.30.0"),
        (EventType::Alive, "server", "0.100.0"),
    ] {
        let event = Event::builder(t)
            .identity(format!("{component}-{version}"))
            .component(component)
            .version(version)
            .build()
            .unwrap();
        events.push(event);
    }
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();
    let received = within(60, "two events", take(&mut subscription, 2)).await;
    let identities: Vec<&str> = received
        .iter()
        .map(|r| r.parsed.event().identity())
        .collect();
    assert_eq!(identities, ["server-0.29.10", "server-0.100.0"]);
    assert_quiet(&mut subscription).await;
}
