//! Replay from JetStream, then live, with no gap and no duplicate at the seam.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use futures_util::StreamExt;
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ErrorKind, Interest, ReplayFrom};
use lifecycle_testsupport::{NatsServer, ServerOptions, started, started_with_events};

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_before_and_after_arrive_once_in_order() {
    const HALF: usize = 10_000;
    let (server, connection) = started().await;
    assert!(
        connection
            .ensure_events_stream(Duration::from_secs(3600))
            .await
            .unwrap()
    );
    assert!(
        !connection
            .ensure_events_stream(Duration::from_secs(3600))
            .await
            .unwrap()
    );

    let publisher = connect(&server).await.publisher(Format::Choria);
    let before: Vec<Event> = (0..HALF).map(numbered).collect();
    publisher.publish_all(&before).await.unwrap();
    publisher.flush().await.unwrap();
    stored(&connection, HALF as u64).await;

    let mut replay = connection
        .replay(&Interest::default(), ReplayFrom::Start)
        .await
        .unwrap();
    assert_eq!(replay.backlog(), Some(HALF as u64));
    let after: Vec<Event> = (HALF..2 * HALF).map(numbered).collect();
    let publishing = tokio::spawn(async move {
        publisher.publish_all(&after).await.unwrap();
        publisher.flush().await.unwrap();
    });

    let got = within(120, "20,000 events", take(&mut replay, 2 * HALF)).await;
    publishing.await.unwrap();
    for (i, received) in got.iter().enumerate() {
        assert_eq!(received.stream_sequence, Some(i as u64 + 1));
        assert_eq!(
            received.parsed.event().identity(),
            format!("node{i}.example.net"),
            "event {i} out of order or duplicated"
        );
    }
    assert_quiet(&mut replay).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_from_a_time_and_with_filters() {
    let (_server, connection) = started_with_events().await;
    let publisher = connection.publisher(Format::CloudEvents);
    publisher
        .publish_all(&one_of_each("old", "server"))
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    // Stored before the time the replay starts from: the new ones only are after it.
    stored(&connection, EventType::ALL.len() as u64).await;
    let since = SystemTime::now();
    publisher
        .publish_all(&one_of_each("new", "server"))
        .await
        .unwrap();
    publisher
        .publish_all(&one_of_each("new", "broker"))
        .await
        .unwrap();
    publisher.flush().await.unwrap();

    let interest = Interest::default()
        .types([EventType::Alive, EventType::Startup])
        .components(["broker"]);
    let mut replay = connection
        .replay(&interest, ReplayFrom::Time(since))
        .await
        .unwrap();
    let got = within(60, "filtered replay", take(&mut replay, 2)).await;
    let got: Vec<(String, &str)> = got
        .iter()
        .map(|r| {
            let e = r.parsed.event();
            (e.identity().to_owned(), e.type_name())
        })
        .collect();
    assert_eq!(
        got,
        [("new".to_owned(), "startup"), ("new".to_owned(), "alive")]
    );
    assert_quiet(&mut replay).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_jetstream_replay_is_a_clear_error_and_live_still_works() {
    let server = NatsServer::with_options(ServerOptions {
        jetstream: false,
        ..Default::default()
    });
    let connection = connect(&server).await;
    assert!(!connection.has_jetstream());
    let err = connection
        .replay(&Interest::default(), ReplayFrom::Start)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::JetStreamUnavailable);
    assert_eq!(
        lifecycle_core::ErrorChain(&err).to_string(),
        "JetStream is not enabled on the NATS server, so past events cannot be replayed"
    );
    let mut live = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();
    let publisher = connection.publisher(Format::Choria);
    publisher.publish(&numbered(1)).await.unwrap();
    publisher.flush().await.unwrap();
    let got = within(60, "a live event", live.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.parsed.event().identity(), "node1.example.net");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_without_the_stream_says_which_stream_is_missing() {
    let (_server, connection) = started().await;
    let err = connection
        .replay(&Interest::default(), ReplayFrom::Start)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::StreamNotFound("CHORIA_EVENTS".into())
    );
}
