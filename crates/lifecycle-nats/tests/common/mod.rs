//! Shared by the integration tests: what lifecycle-testsupport does not hold (waiting on a
//! `Subscription`), and its fixtures under the names these tests use.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use lifecycle_core::{Event, Format};
use lifecycle_nats::{Connection, ErrorKind, Interest, Received, Settings, Subscription};
#[allow(unused_imports)] // each test binary uses its own part
pub use lifecycle_testsupport::{
    VERSION, alive, connect, connect_with, connect_with_events, one_of_each, publish_raw, stored,
};

/// `node<n>.example.net`'s server is alive at [`VERSION`].
pub fn numbered(n: usize) -> Event {
    alive(&format!("node{n}.example.net"), VERSION)
}

/// Fails the test instead of hanging when `future` takes longer than `secs`.
pub async fn within<T>(secs: u64, what: &str, future: impl Future<Output = T>) -> T {
    lifecycle_testsupport::within(Duration::from_secs(secs), what, future).await
}

/// The next `n` events, failing on anything that is not an event.
pub async fn take(subscription: &mut Subscription, n: usize) -> Vec<Received> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        match subscription.next().await {
            Some(Ok(event)) => events.push(event),
            Some(Err(e)) => panic!("unexpected error: {e}"),
            None => panic!("subscription ended after {} events", events.len()),
        }
    }
    events
}

/// Publishes one event in `format` through `connection` and receives it back: the event
/// sent and the one received.
pub async fn round_trip(connection: &Connection, format: Format) -> (Event, Received) {
    let mut events = connection.subscribe(&Interest::default()).await.unwrap();
    connection.client().flush().await.unwrap();
    let event = one_of_each("n1.example.net", "server").remove(0);
    let publisher = connection.publisher(format);
    publisher.publish(&event).await.unwrap();
    publisher.flush().await.unwrap();
    let got = within(60, "the event back", take(&mut events, 1)).await;
    (event, got.into_iter().next().unwrap())
}

/// The error of connecting with `settings`, which the server refuses as unauthorized.
pub async fn refused(settings: &Settings) -> lifecycle_nats::Error {
    let err = within(60, "the refusal", Connection::connect(settings))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Unauthorized { .. }),
        "{err:?}"
    );
    err
}

/// Asserts that nothing more arrives within a short while.
pub async fn assert_quiet(subscription: &mut Subscription) {
    let next = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await;
    if let Ok(Some(item)) = next {
        panic!("expected nothing more, got {item:?}");
    }
}
