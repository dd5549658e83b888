//! Publishing into `CHORIA_EVENTS` and watching durable consumers on it, each wait bounded
//! by [`LIMIT`] and failing with what it waited for.

use std::time::Duration;

use lifecycle_core::{Event, Format};
use lifecycle_nats::{Connection, EVENTS_STREAM};

use crate::process::{Logged, logs};
use crate::wait::{LIMIT, within};

/// Publishes `events` in Choria's format and flushes.
pub async fn publish(connection: &Connection, events: &[Event]) {
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(events).await.expect("publish");
    publisher.flush().await.expect("flush");
}

/// Publishes each `(subject, payload)` as it is, whether an event or not, and flushes.
pub async fn publish_raw<S: AsRef<str>, P: AsRef<[u8]>>(
    connection: &Connection,
    messages: impl IntoIterator<Item = (S, P)>,
) {
    for (subject, payload) in messages {
        connection
            .client()
            .publish(
                subject.as_ref().to_owned(),
                payload.as_ref().to_vec().into(),
            )
            .await
            .expect("publish");
    }
    connection.client().flush().await.expect("flush");
}

/// Waits until `CHORIA_EVENTS` holds at least `n` messages: a core publish is stored a
/// moment after its flush returns, later still on a loaded machine.
pub async fn stored(connection: &Connection, n: u64) {
    within(LIMIT, "the stream to store the events", async {
        loop {
            let state = connection
                .stream_state(EVENTS_STREAM)
                .await
                .expect("stream state");
            if state.is_some_and(|s| s.messages >= n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// `CHORIA_EVENTS` as a JetStream stream, for what the library does not say (consumers).
pub async fn events_stream(connection: &Connection) -> async_nats::jetstream::stream::Stream {
    async_nats::jetstream::new(connection.client().clone())
        .get_stream(EVENTS_STREAM)
        .await
        .expect("CHORIA_EVENTS exists")
}

/// Waits until the durable consumer `name` on `CHORIA_EVENTS` exists (it starts with the
/// events stored from then on). A failure shows what `processes` logged.
pub async fn wait_for_consumer(connection: &Connection, name: &str, processes: &[&Logged]) {
    let stream = events_stream(connection).await;
    let exists = async {
        while stream.consumer_info(name).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(LIMIT, exists).await.is_err() {
        panic!("no consumer {name} after {LIMIT:?}:\n{}", logs(processes));
    }
}

/// Waits until the consumer `name` holds nothing unacknowledged and nothing pending. A
/// failure shows what `processes` logged.
pub async fn wait_settled(connection: &Connection, name: &str, processes: &[&Logged]) {
    let stream = events_stream(connection).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let info = stream.consumer_info(name).await.expect("consumer info");
        if info.num_ack_pending == 0 && info.num_pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: {} unacknowledged, {} pending after {LIMIT:?}:\n{}",
            info.num_ack_pending,
            info.num_pending,
            logs(processes)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes `events` and waits until the stream holds `total` messages in all.
pub async fn publish_stored(connection: &Connection, events: &[Event], total: u64) {
    publish(connection, events).await;
    stored(connection, total).await;
}
