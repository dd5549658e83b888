//! The durable consumer: in order, one unacknowledged at a time, redelivered when not
//! acknowledged, resumed under the same name, invalid messages reported and terminated.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{Delivery, Durable, Interest, ReceiveError};
use lifecycle_testsupport::{started, started_with_events};

async fn next(durable: &mut Durable) -> Delivery {
    match within(60, "a delivery", durable.next()).await {
        Some(Ok(delivery)) => delivery,
        Some(Err(e)) => panic!("unexpected error: {e}"),
        None => panic!("the durable consumer ended"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_in_order_redelivered_when_not_and_resumed_by_name() {
    let (server, connection) = started_with_events().await;
    let interest = Interest::default().types([EventType::Alive]);
    let mut durable = connection
        .durable("forward", &interest, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(durable.name(), "forward");

    let publisher = connect(&server).await.publisher(Format::Choria);
    let events: Vec<Event> = (0..5).map(numbered).collect();
    publisher.publish_all(&events).await.unwrap();
    // Not asked for: never delivered.
    let shutdown = Event::builder(EventType::Shutdown)
        .identity("other")
        .component("server")
        .build()
        .unwrap();
    publisher.publish(&shutdown).await.unwrap();
    publisher.flush().await.unwrap();

    let first = next(&mut durable).await;
    assert_eq!(first.event().id(), events[0].id());
    assert_eq!(first.delivered, 1);
    assert_eq!(first.received.stream_sequence, Some(1));
    // One unacknowledged at a time: nothing else comes until it is settled.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), durable.next())
            .await
            .is_err()
    );
    first.ack().await.unwrap();

    let second = next(&mut durable).await;
    assert_eq!(second.event().id(), events[1].id());
    second.nak(None).await.unwrap();
    let again = next(&mut durable).await;
    assert_eq!(again.event().id(), events[1].id());
    assert_eq!(again.delivered, 2);
    again.in_progress().await.unwrap();
    again.ack().await.unwrap();

    // Not acknowledged and the consumer goes away: a new one under the same name gets it
    // again after the acknowledgement wait, then the rest, in order.
    let third = next(&mut durable).await;
    assert_eq!(third.event().id(), events[2].id());
    drop(third);
    drop(durable);
    let mut durable = connection
        .durable("forward", &interest, Duration::from_secs(1))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 2..5 {
        let delivery = next(&mut durable).await;
        ids.push(delivery.event().id().to_owned());
        delivery.ack().await.unwrap();
    }
    let expected: Vec<String> = events[2..].iter().map(|e| e.id().to_owned()).collect();
    assert_eq!(ids, expected);
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), durable.next())
            .await
            .is_err(),
        "nothing more: the shutdown event is not of interest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_messages_are_reported_and_do_not_block() {
    let (server, connection) = started_with_events().await;
    let mut durable = connection
        .durable("invalid", &Interest::default(), Duration::from_secs(30))
        .await
        .unwrap();
    let event = numbered(1);
    let subject = "choria.lifecycle.event.alive.server";
    publish_raw(
        &connect(&server).await,
        [(subject, b"not json".to_vec()), (subject, event.to_json())],
    )
    .await;
    match within(60, "the invalid message", durable.next()).await {
        Some(Err(ReceiveError::Invalid(invalid))) => {
            assert_eq!(&invalid.payload[..], b"not json")
        }
        other => panic!("expected an invalid message, got {other:?}"),
    }
    let delivery = next(&mut durable).await;
    assert_eq!(delivery.event().id(), event.id());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_and_missing_streams_are_errors() {
    let (_server, connection) = started().await;
    // The error of a durable consumer named `name`, with every cause, holds `text`.
    let refused = async |name: &str, text: &str| {
        let error = connection
            .durable(name, &Interest::default(), Duration::from_secs(1))
            .await
            .unwrap_err();
        let chain = lifecycle_core::ErrorChain(&error).to_string();
        assert!(chain.contains(text), "{error}");
    };
    refused("a", "CHORIA_EVENTS does not exist").await;
    connection
        .ensure_events_stream(Duration::from_secs(60))
        .await
        .unwrap();
    refused("a.b", "'a.b'").await;
}

/// Events left unacknowledged come back in the order their waits lapse, not the stream's:
/// the first one here is reported in progress last, so it lapses last. A consumer started
/// again holds what comes until all three are back, and lets them out in stream order.
#[tokio::test(flavor = "multi_thread")]
async fn events_left_unacknowledged_come_back_in_stream_order() {
    let (_server, connection) = started_with_events().await;
    let interest = Interest::default();
    let ack_wait = Duration::from_secs(1);
    let mut durable = connection
        .durable_with("reorder", &interest, ack_wait, 8)
        .await
        .unwrap();
    let events: Vec<Event> = (0..3).map(numbered).collect();
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();
    let held: Vec<Delivery> = vec![
        next(&mut durable).await,
        next(&mut durable).await,
        next(&mut durable).await,
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;
    held[0].in_progress().await.unwrap();
    drop(held);
    drop(durable);

    let mut durable = connection
        .durable_with("reorder", &interest, ack_wait, 8)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let delivery = next(&mut durable).await;
        assert_eq!(delivery.delivered, 2);
        ids.push(delivery.event().id().to_owned());
        delivery.ack().await.unwrap();
    }
    let expected: Vec<String> = events.iter().map(|e| e.id().to_owned()).collect();
    assert_eq!(ids, expected, "in stream order");
}
