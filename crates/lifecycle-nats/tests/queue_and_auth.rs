//! Queue groups share events among members; token authentication.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use lifecycle_core::{Event, Format};
use lifecycle_nats::{ConnectOptions, Connection, Interest, Secret, Settings};
use lifecycle_testsupport::{NatsServer, ServerOptions};

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_group_delivers_each_event_to_one_member() {
    let server = NatsServer::start();
    let first = connect(&server).await;
    let second = connect(&server).await;
    let mut a = first
        .queue_subscribe(&Interest::default(), "tally")
        .await
        .unwrap();
    let mut b = second
        .queue_subscribe(&Interest::default(), "tally")
        .await
        .unwrap();
    first.client().flush().await.unwrap();
    second.client().flush().await.unwrap();

    let publisher = connect(&server).await.publisher(Format::Choria);
    let events: Vec<Event> = (0..200).map(numbered).collect();
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();

    let mut seen = Vec::new();
    within(60, "200 events across the group", async {
        while seen.len() < 200 {
            let received = tokio::select! {
                Some(r) = a.next() => r,
                Some(r) = b.next() => r,
            };
            seen.push(received.unwrap().parsed.event().identity().to_owned());
        }
    })
    .await;
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(
        distinct.len(),
        200,
        "each event exactly once across the group"
    );
    for member in [&mut a, &mut b] {
        assert!(
            tokio::time::timeout(Duration::from_millis(300), member.next())
                .await
                .is_err(),
            "no event delivered twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_authenticates_and_its_absence_is_a_clear_error() {
    let server = NatsServer::with_options(ServerOptions {
        extra_config: "authorization {\n  token: \"s3cr3t-token\"\n}\n".into(),
        ..Default::default()
    });
    let with_token = ConnectOptions {
        servers: vec![server.url()],
        token: Some(Secret::new("s3cr3t-token")),
        ..Default::default()
    };
    let settings = Settings::resolve_with(&with_token, None, &[]).unwrap();
    assert!(!format!("{settings:?}").contains("s3cr3t-token"));
    let connection = Connection::connect(&settings).await.unwrap();
    let mut events = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();
    connection
        .publisher(Format::Choria)
        .publish(&numbered(1))
        .await
        .unwrap();
    let got = within(60, "an event with a token", take(&mut events, 1)).await;
    assert_eq!(got[0].parsed.event().identity(), "node1.example.net");

    let without = Settings::resolve_with(
        &ConnectOptions {
            servers: vec![server.url()],
            ..Default::default()
        },
        None,
        &[],
    )
    .unwrap();
    let err = refused(&without).await;
    let message = lifecycle_core::ErrorChain(&err).to_string().to_lowercase();
    assert!(message.contains("authorization"), "{message}");
    assert!(!message.contains("s3cr3t"));
}
