//! Shared by the integration tests: connect to a test server, build events, wait bounded.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use lifecycle_core::{Event, EventType, GovernorEventType};
use lifecycle_nats::{ConnectOptions, Connection, EVENTS_STREAM, Received, Settings, Subscription};
use lifecycle_testsupport::NatsServer;

pub async fn connect(server: &NatsServer) -> Connection {
    connect_with(server, ConnectOptions::default()).await
}

pub async fn connect_with(server: &NatsServer, mut options: ConnectOptions) -> Connection {
    options.servers = vec![server.url()];
    let settings = Settings::resolve_with(&options, None, &[]).expect("settings");
    Connection::connect(&settings).await.expect("connect")
}

/// One event of each type for `component`, from `identity`.
pub fn one_of_each(identity: &str, component: &str) -> Vec<Event> {
    EventType::ALL
        .into_iter()
        .map(|t| {
            Event::builder(t)
                .identity(identity)
                .component(component)
                .version("0.28.0")
                .new_version("0.29.4")
                .governor("PUPPET")
                .sequence(3)
                .governor_event(GovernorEventType::Enter)
                .timestamp(1_700_000_000)
                .build()
                .expect("valid event")
        })
        .collect()
}

/// Fails the test instead of hanging when `future` takes longer than `secs`.
pub async fn within<T>(secs: u64, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s waiting for {what}"))
}

/// Waits until `CHORIA_EVENTS` holds at least `n` messages: a core publish is stored a
/// moment after its flush returns, later still on a loaded machine.
pub async fn stored(connection: &Connection, n: u64) {
    within(60, "the stream to store the events", async {
        loop {
            let state = connection
                .stream_state(EVENTS_STREAM)
                .await
                .expect("stream state");
            if state.map_or(0, |s| s.messages) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
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

/// Asserts that nothing more arrives within a short while.
pub async fn assert_quiet(subscription: &mut Subscription) {
    let next = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await;
    if let Ok(Some(item)) = next {
        panic!("expected nothing more, got {item:?}");
    }
}
