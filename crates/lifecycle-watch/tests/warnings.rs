//! Messages that are not events, received from a real nats-server, are reported once per
//! interval with a count, not once per message. The warnings are read from a subscriber
//! written here (this file is its own test binary, so no other test logs into it).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifecycle_core::{Event, EventType, Filter, Format};
use lifecycle_nats::{ConnectOptions, Connection, Settings, WARNING_INTERVAL};
use lifecycle_testsupport::NatsServer;
use lifecycle_watch::Watch;
use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};

const WITHIN: Duration = Duration::from_secs(60);

/// One warning: its message and its numeric fields.
#[derive(Debug, Default, Clone)]
struct Warning {
    message: String,
    total: u64,
    since_last_warning: u64,
}

impl Visit for Warning {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "total" => self.total = value,
            "since_last_warning" => self.since_last_warning = value,
            _ => {}
        }
    }
}

/// Keeps every warning logged on this thread.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<Warning>>>);

impl Warnings {
    fn about(&self, message: &str) -> Vec<Warning> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|w| w.message == message)
            .cloned()
            .collect()
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() == Level::WARN
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut warning = Warning::default();
        event.record(&mut warning);
        self.0.lock().unwrap().push(warning);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The test runs on one thread (tokio's current-thread runtime), where the subscriber is
/// the default: the watch's warnings are logged there.
#[tokio::test]
async fn messages_that_are_not_events_are_reported_once_per_interval_not_per_message() {
    let warnings = Warnings::default();
    let _default = tracing::subscriber::set_default(warnings.clone());
    let server = NatsServer::start();
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    let connection = Connection::connect(&Settings::resolve_with(&options, None, &[]).unwrap())
        .await
        .unwrap();
    let mut events = Watch::new(Filter::default())
        .timeout(WITHIN)
        .open(&connection)
        .await
        .unwrap();
    let started = Instant::now();
    const JUNK: u64 = 40;
    for n in 0..JUNK {
        connection
            .client()
            .publish(
                "choria.lifecycle.event.alive.server",
                format!("not an event {n}").into(),
            )
            .await
            .unwrap();
    }
    let real = Event::builder(EventType::Alive)
        .identity("n1")
        .component("server")
        .version("0.30.0")
        .build()
        .unwrap();
    let publisher = connection.publisher(Format::Choria);
    publisher
        .publish_all(std::slice::from_ref(&real))
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    // The junk came first, from the same connection: skipped on the way to the event.
    let received = tokio::time::timeout(WITHIN, events.next())
        .await
        .expect("the event in time")
        .expect("the event");
    assert_eq!(received.parsed.event().id(), real.id());
    let elapsed = started.elapsed();
    let during = warnings.about("invalid messages skipped");
    assert!(!during.is_empty(), "the first is reported at once");
    assert_eq!((during[0].total, during[0].since_last_warning), (1, 1));
    // Dropped: the rest is told, with the total.
    drop(events);
    let all = warnings.about("invalid messages skipped");
    let last = all.last().unwrap();
    assert_eq!(last.total, JUNK, "{all:?}");
    assert_eq!(
        all.iter().map(|w| w.since_last_warning).sum::<u64>(),
        JUNK,
        "each message counted once: {all:?}"
    );
    // One at once, one more per interval at most, and the last at the drop.
    let intervals = (elapsed.as_secs_f64() / WARNING_INTERVAL.as_secs_f64()).ceil() as usize;
    assert!(
        all.len() <= 2 + intervals,
        "{} warnings for {JUNK} messages in {elapsed:?}: {all:?}",
        all.len()
    );
    if elapsed < WARNING_INTERVAL {
        assert_eq!(all.len(), 2, "{all:?}");
    }
}
