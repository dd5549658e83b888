//! The engine against a real nats-server with JetStream, with handlers written here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifecycle_core::{Event, Filter};
use lifecycle_deliver::{Engine, Failure, Handler, Settings, Stopped};
use lifecycle_nats::{Connection, Received};
use lifecycle_testsupport::{
    events_stream, publish, started_with_events, startup, wait_settled, wait_until,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One event's identity and id.
#[derive(Debug, Clone, PartialEq)]
struct Job(String, String);

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

/// Records the identities and ids it handles; never finishes for identities starting
/// with "stuck".
#[derive(Default, Clone)]
struct Record {
    handled: Arc<Mutex<Vec<Job>>>,
}

impl Record {
    fn handled(&self) -> Vec<Job> {
        self.handled.lock().unwrap().clone()
    }
}

impl Handler for Record {
    type Action = Job;

    fn prepare(&self, event: &Received) -> Result<Job, Failure> {
        let event = event.parsed.event();
        Ok(Job(event.identity().to_owned(), event.id().to_owned()))
    }

    async fn attempt(&self, action: &Job, _attempt: u32) -> Result<(), Failure> {
        if action.0.starts_with("stuck") {
            std::future::pending::<()>().await;
        }
        self.handled.lock().unwrap().push(action.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "record".into()
    }
}

/// Waits until the durable consumer `name` exists.
async fn consumer_exists(connection: &Connection, name: &str) {
    lifecycle_testsupport::wait_for_consumer(connection, name, &[]).await;
}

/// `engine` run on the durable consumer `name` in a task, and the sender that stops it.
fn run_durable<H: Handler>(
    engine: Engine<H>,
    connection: &Connection,
    name: &'static str,
    ack_wait: Duration,
) -> (oneshot::Sender<()>, JoinHandle<Stopped>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let connection = connection.clone();
    let task = tokio::spawn(async move {
        engine
            .run_durable(&connection, name, ack_wait, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_leaves_what_was_not_settled_to_the_next_run() {
    let (_server, connection) = started_with_events().await;
    let record = Record::default();
    let mut settings = Settings::new("test");
    settings.concurrency = 4;
    settings.in_flight = 16;
    settings.grace = Duration::from_millis(300);
    let engine = Engine::new(record.clone(), settings.clone());
    let (stop, first) = run_durable(engine, &connection, "stop", Duration::from_secs(1));
    consumer_exists(&connection, "stop").await;
    // stuck0's event never finishes; the others of stuck0 wait behind it.
    let events: Vec<Event> = (0..12)
        .map(|i| {
            startup(&format!(
                "{}{}",
                if i % 3 == 0 { "stuck" } else { "node" },
                i % 3
            ))
        })
        .collect();
    publish(&connection, &events).await;
    wait_until("the others handled", || record.handled().len() == 8).await;
    let asked = Instant::now();
    let _ = stop.send(());
    assert_eq!(first.await.unwrap(), Stopped::Shutdown);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the grace is 300 ms"
    );
    assert_eq!(record.handled().len(), 8);

    // A handler that finishes everything gets the rest, after the wait lapsed.
    let again = Record::default();
    let unstuck = Unstuck(again.clone());
    let engine = Engine::new(unstuck, settings);
    let (stop, second) = run_durable(engine, &connection, "stop", Duration::from_secs(1));
    wait_until("the rest handled", || again.handled().len() == 4).await;
    let ids: Vec<String> = again.handled().into_iter().map(|Job(_, id)| id).collect();
    let expected: Vec<String> = events
        .iter()
        .filter(|e| e.identity() == "stuck0")
        .map(|e| e.id().to_owned())
        .collect();
    assert_eq!(ids, expected, "the stuck node's four, in order");
    let _ = stop.send(());
    assert_eq!(second.await.unwrap(), Stopped::Shutdown);
}

/// A live subscription delivers nothing again: what a stopped live run was handling or held
/// is counted as dropped (lifecycle-cli's tests/stopping.rs covers those it had received and
/// not taken).
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_live_run_counts_what_it_did_not_deliver_as_dropped() {
    let (_server, connection) = started_with_events().await;
    let record = Record::default();
    let mut settings = Settings::new("live");
    settings.concurrency = 2;
    settings.in_flight = 8;
    settings.grace = Duration::from_millis(300);
    let engine = Engine::new(record.clone(), settings);
    let metrics = engine.metrics().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = {
        let connection = connection.clone();
        tokio::spawn(async move {
            engine
                .run_live(&connection, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap()
        })
    };
    // Subscribed once an event gets through (those sent before are missed, live); the
    // probes sent after it arrive before a marker sent last.
    let mut sent = 0;
    while record.handled().is_empty() {
        publish(&connection, &[startup("probe")]).await;
        sent += 1;
        assert!(sent < 1500, "the live run never received an event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publish(&connection, &[startup("marker")]).await;
    wait_until("the marker handled", || {
        record
            .handled()
            .iter()
            .any(|Job(identity, _)| identity == "marker")
    })
    .await;
    let handled = record.handled().len();
    // Two handlers stuck, four events held behind them.
    let stuck: Vec<Event> = (0..6)
        .map(|i| startup(&format!("stuck{}", i % 2)))
        .collect();
    publish(&connection, &stuck).await;
    let matched = handled as u64 + 6;
    wait_until("six stuck events held", || metrics.matched() == matched).await;
    assert_eq!(metrics.dropped(), 0);
    let _ = stop.send(());
    assert_eq!(run.await.unwrap(), Stopped::Shutdown);
    assert_eq!(metrics.dropped(), 6, "2 running, 4 held behind them");
    assert_eq!(record.handled().len(), handled);
}

/// [`Record`] without getting stuck.
struct Unstuck(Record);

impl Handler for Unstuck {
    type Action = Job;

    fn prepare(&self, event: &Received) -> Result<Job, Failure> {
        self.0.prepare(event)
    }

    async fn attempt(&self, action: &Job, _attempt: u32) -> Result<(), Failure> {
        self.0.handled.lock().unwrap().push(action.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "unstuck".into()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filtered_out_events_are_acknowledged_and_dedupe_acts_once_per_key() {
    let (_server, connection) = started_with_events().await;
    let record = Record::default();
    let mut settings = Settings::new("dedupe");
    // Types go into the subjects; the identity glob is applied here.
    settings.filter = Filter::parse("startup,identity=node*").unwrap();
    settings.dedupe = Some(Duration::from_secs(3600));
    settings.concurrency = 2;
    settings.in_flight = 8;
    let engine = Engine::new(record.clone(), settings);
    let metrics = engine.metrics().clone();
    let (stop, running) = run_durable(engine, &connection, "dedupe", Duration::from_secs(5));
    consumer_exists(&connection, "dedupe").await;
    let events = [
        startup("node1"),
        startup("other1"),
        startup("node1"),
        startup("node2"),
        startup("node1"),
    ];
    publish(&connection, &events).await;
    // Not an event: counted and terminated, never handed over nor redelivered.
    connection
        .client()
        .publish("choria.lifecycle.event.startup.server", "{\"id\":".into())
        .await
        .unwrap();
    wait_until("all settled", || {
        metrics.succeeded() + metrics.deduplicated() == 4 && metrics.invalid() == 1
    })
    .await;
    wait_settled(&connection, "dedupe", &[]).await;
    let handled: Vec<String> = record.handled().into_iter().map(|Job(_, id)| id).collect();
    assert_eq!(handled.len(), 2);
    assert!(handled.contains(&events[0].id().to_owned()));
    assert!(handled.contains(&events[3].id().to_owned()));
    assert_eq!(metrics.matched(), 4);
    assert_eq!(metrics.deduplicated(), 2);
    assert_eq!(metrics.invalid(), 1);
    let _ = stop.send(());
    assert_eq!(running.await.unwrap(), Stopped::Shutdown);
}

/// Records what it handles, and each identity it found running already when one of its
/// events started; takes a little while, longer for some events than others, so that they
/// finish out of order.
#[derive(Default, Clone)]
struct OneAtATime {
    record: Record,
    running: Arc<Mutex<std::collections::HashSet<String>>>,
    overlapping: Arc<Mutex<Vec<String>>>,
}

impl Handler for OneAtATime {
    type Action = Job;

    fn prepare(&self, event: &Received) -> Result<Job, Failure> {
        self.record.prepare(event)
    }

    async fn attempt(&self, action: &Job, _attempt: u32) -> Result<(), Failure> {
        if !self.running.lock().unwrap().insert(action.0.clone()) {
            self.overlapping.lock().unwrap().push(action.0.clone());
        }
        let pause = action.1.bytes().map(u64::from).sum::<u64>() % 3;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        self.record.handled.lock().unwrap().push(action.clone());
        self.running.lock().unwrap().remove(&action.0);
        Ok(())
    }

    fn describe(&self) -> String {
        "one at a time".into()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn many_at_once_each_key_keeps_its_order_and_every_acknowledgement_is_confirmed() {
    let (_server, connection) = started_with_events().await;
    let handler = OneAtATime::default();
    let mut settings = Settings::new("order");
    settings.concurrency = 16;
    settings.in_flight = 64;
    let engine = Engine::new(handler.clone(), settings);
    let metrics = engine.metrics().clone();
    let (stop, running) = run_durable(engine, &connection, "order", Duration::from_secs(30));
    consumer_exists(&connection, "order").await;
    let events: Vec<Event> = (0..500)
        .map(|i| startup(&format!("node{}", i % 20)))
        .collect();
    publish(&connection, &events).await;
    wait_until("all handled", || metrics.succeeded() == 500).await;
    // Every acknowledgement confirmed: nothing left pending on the server.
    wait_settled(&connection, "order", &[]).await;
    let stream = events_stream(&connection).await;
    let info = stream.consumer_info("order").await.unwrap();
    assert_eq!(info.num_redelivered, 0);
    assert!(
        handler.overlapping.lock().unwrap().is_empty(),
        "one at a time per key"
    );
    let handled = handler.record.handled();
    assert_eq!(handled.len(), 500, "each once");
    for node in 0..20 {
        let identity = format!("node{node}");
        let published: Vec<&str> = events
            .iter()
            .filter(|e| e.identity() == identity)
            .map(|e| e.id())
            .collect();
        let done: Vec<&str> = handled
            .iter()
            .filter(|Job(i, _)| *i == identity)
            .map(|Job(_, id)| id.as_str())
            .collect();
        assert_eq!(done, published, "{identity} in stream order");
    }
    let _ = stop.send(());
    assert_eq!(running.await.unwrap(), Stopped::Shutdown);
}
