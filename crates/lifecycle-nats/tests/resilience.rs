//! The broker goes away and comes back: subscribers and publishers carry on by themselves.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use lifecycle_core::{Event, Format};
use lifecycle_nats::{Interest, ReplayFrom};
use lifecycle_testsupport::NatsServer;

#[tokio::test(flavor = "multi_thread")]
async fn subscriber_and_publisher_resume_after_a_broker_restart() {
    let mut server = NatsServer::start();
    let connection = connect(&server).await;
    let mut events = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();
    let publisher = connect(&server).await.publisher(Format::Choria);

    publisher.publish(&alive("before", VERSION)).await.unwrap();
    publisher.flush().await.unwrap();
    let got = within(60, "the event before the restart", take(&mut events, 1)).await;
    assert_eq!(got[0].parsed.event().identity(), "before");

    server.restart();

    // Both clients reconnect on their own; probe until the subscription is back.
    within(30, "the subscription to resume", async {
        loop {
            let _ = publisher.publish(&alive("probe", VERSION)).await;
            if let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_millis(250), events.next()).await
            {
                break;
            }
        }
    })
    .await;
    let after: Vec<Event> = (0..100)
        .map(|i| alive(&format!("after-{i}"), VERSION))
        .collect();
    publisher.publish_all(&after).await.unwrap();
    publisher.flush().await.unwrap();
    let mut seen = Vec::new();
    within(60, "the events published after the restart", async {
        while seen.len() < after.len() {
            let received = events.next().await.unwrap().unwrap();
            let identity = received.parsed.event().identity().to_owned();
            if identity != "probe" {
                seen.push(identity);
            }
        }
    })
    .await;
    let want: Vec<String> = after.iter().map(|e| e.identity().to_owned()).collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_survives_a_broker_restart() {
    let mut server = NatsServer::start();
    // That this makes the stream (ensure_events_stream says true) is replay.rs's
    // ten_thousand_before_and_after_arrive_once_in_order.
    let connection = connect_with_events(&server).await;
    let publisher = connection.publisher(Format::Choria);
    let first: Vec<Event> = (0..50)
        .map(|i| alive(&format!("first-{i}"), VERSION))
        .collect();
    publisher.publish_all(&first).await.unwrap();
    publisher.flush().await.unwrap();
    let mut replay = connection
        .replay(&Interest::default(), ReplayFrom::Start)
        .await
        .unwrap();
    let got = within(60, "the first events", take(&mut replay, 50)).await;
    assert_eq!(got.last().unwrap().stream_sequence, Some(50));

    server.restart();

    let second: Vec<Event> = (0..50)
        .map(|i| alive(&format!("second-{i}"), VERSION))
        .collect();
    within(60, "the replay to resume after the restart", async {
        // Publishing before the reconnect is buffered by the client; JetStream stores it
        // once it arrives, and the ordered consumer picks up where it left off.
        publisher.publish_all(&second).await.unwrap();
        publisher.flush().await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < second.len() {
            match replay.next().await {
                Some(Ok(received)) => {
                    assert_eq!(received.stream_sequence, Some(51 + seen.len() as u64));
                    seen.push(received.parsed.event().identity().to_owned());
                }
                Some(Err(e)) => tracing::debug!("consumer recovering: {e}"),
                None => panic!("replay ended"),
            }
        }
        let want: Vec<String> = second.iter().map(|e| e.identity().to_owned()).collect();
        assert_eq!(seen, want);
    })
    .await;
}

/// A daemon started before its broker waits for it, then knows what the broker offers.
#[tokio::test(flavor = "multi_thread")]
async fn retrying_the_first_connection_waits_for_the_server() {
    use lifecycle_nats::{ConnectOptions, Connection, Settings};
    let mut server = NatsServer::start();
    server.stop();
    let options = ConnectOptions {
        servers: vec![server.url()],
        retry_initial_connect: true,
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let connecting = tokio::spawn(async move { Connection::connect(&settings).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!connecting.is_finished(), "connected to nothing");
    server.start_again();
    let connection = within(30, "the connection", connecting)
        .await
        .unwrap()
        .unwrap();
    assert!(
        connection.has_jetstream(),
        "the server's JetStream is known once connected"
    );
}
