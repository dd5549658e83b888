//! `lifecycle forward --durable`, run as a user runs it, against a real nats-server and a
//! CloudEvents receiver built on the Python SDK: nothing is lost while the receiver is down,
//! nor when the forwarder is killed and started again; the only event delivered twice is
//! the one in flight at the kill, with the same id. Every child process is killed on drop.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Connection, DEFAULT_RETENTION, Settings};
use lifecycle_testsupport::{CloudEventsReceiver, NatsServer};

const EVENTS: usize = 1000;

/// A running `lifecycle forward`, killed (SIGKILL, no goodbye) on drop.
struct Forward {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Forward {
    fn start(server: &NatsServer, to: &str, durable: &str, extra: &[&str]) -> Forward {
        Forward::run(
            server,
            &[
                &["--to", to, "--durable", durable, "--ack-wait", "2s"],
                extra,
            ]
            .concat(),
        )
    }

    fn run(server: &NatsServer, args: &[&str]) -> Forward {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .arg("forward")
            .args(["--max-backoff", "200ms", "-vv"])
            .args(args)
            .args(["--server", &server.url()])
            .env_remove("NATS_URL")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("run lifecycle forward");
        Forward { child, log }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    Connection::connect(&settings).await.unwrap()
}

/// Waits until the forwarder has created its durable consumer, which starts with the
/// events stored from then on.
async fn wait_for_consumer(connection: &Connection, name: &str, forward: &Forward) {
    let js = async_nats::jetstream::new(connection.client().clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stream = js.get_stream("CHORIA_EVENTS").await.unwrap();
        if stream.consumer_info(name).await.is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the forwarder did not create its consumer:\n{}",
            forward.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn publish(connection: &Connection) -> Vec<String> {
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| {
            Event::builder(EventType::Alive)
                .identity(format!("node{}.example.net", i % 10))
                .component("server")
                .version(format!("0.29.{i}"))
                .build()
                .unwrap()
        })
        .collect();
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();
    events.iter().map(|e| e.id().to_owned()).collect()
}

/// The ids the receiver got, in order.
fn received_ids(receiver: &CloudEventsReceiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|line| {
            let got: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(got["source"], "io.choria.lifecycle");
            assert!(
                got["type"]
                    .as_str()
                    .unwrap()
                    .starts_with("io.choria.lifecycle.v1.")
            );
            assert_eq!(got["data"]["id"], got["id"]);
            got["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn wait_for(receiver: &CloudEventsReceiver, at_least: usize, what: &[&Forward]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while receiver.received().len() < at_least {
        if Instant::now() > deadline {
            let logs: Vec<String> = what.iter().map(|f| f.log()).collect();
            panic!(
                "only {} of {at_least} events arrived in 90s; forwarder logs:\n{}",
                receiver.received().len(),
                logs.join("\n---\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn receiver_down_while_a_thousand_are_published_misses_nothing() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    connection
        .ensure_events_stream(DEFAULT_RETENTION)
        .await
        .unwrap();
    let mut receiver = CloudEventsReceiver::start();
    receiver.stop();
    let port = free_port();
    let metrics = format!("127.0.0.1:{port}");
    let forward = Forward::start(
        &server,
        &receiver.url(),
        "down",
        &["--metrics", &metrics, "--mode", "structured"],
    );
    wait_for_consumer(&connection, "down", &forward).await;

    let published = publish(&connection).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(receiver.received().is_empty());
    let before = scrape(port);
    assert_eq!(metric(&before, "lifecycle_forward_delivered_total"), 0);
    assert!(
        metric(&before, "lifecycle_forward_retried_total") > 0,
        "{before}"
    );

    receiver.start_again();
    wait_for(&receiver, EVENTS, &[&forward]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received_ids(&receiver), published, "all, once, in order");
    let after = scrape(port);
    assert!(after.starts_with("HTTP/1.1 200 OK\r\n"), "{after}");
    assert_eq!(
        metric(&after, "lifecycle_forward_delivered_total"),
        EVENTS as u64
    );
    assert_eq!(metric(&after, "lifecycle_forward_failed_total"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarder_restarts_lose_nothing_and_repeat_only_the_event_in_flight() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    connection
        .ensure_events_stream(DEFAULT_RETENTION)
        .await
        .unwrap();
    // Slow to answer, so that the kill below most likely comes between the receiver
    // recording an event and the forwarder acknowledging it.
    let mut receiver = CloudEventsReceiver::start_slow(Duration::from_millis(5));
    receiver.stop();

    // Receiver down while the events are published; the forwarder is killed meanwhile.
    let mut first = Forward::start(&server, &receiver.url(), "restart", &[]);
    wait_for_consumer(&connection, "restart", &first).await;
    let published = publish(&connection).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill();

    // Back up, and killed again in the middle of delivering.
    let mut second = Forward::start(&server, &receiver.url(), "restart", &[]);
    receiver.start_again();
    wait_for(&receiver, 300, &[&first, &second]).await;
    second.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_kill = received_ids(&receiver);
    assert!(
        at_kill.len() < EVENTS,
        "the kill came too late to test anything"
    );

    let third = Forward::start(&server, &receiver.url(), "restart", &[]);
    let distinct = |ids: &[String]| ids.iter().collect::<std::collections::HashSet<_>>().len();
    let deadline = Instant::now() + Duration::from_secs(90);
    while distinct(&received_ids(&receiver)) < EVENTS {
        assert!(
            Instant::now() < deadline,
            "not all events arrived:\n{}",
            third.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = received_ids(&receiver);

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &got {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    // At most one event was unacknowledged at the kill: the last one the receiver had.
    assert!(twice.len() <= 1, "delivered more than once: {twice:?}");
    eprintln!(
        "{} of {} events arrived before the kill; delivered twice: {twice:?}",
        at_kill.len(),
        EVENTS
    );
    for id in &twice {
        assert_eq!(counts[id], 2, "{id}");
        assert_eq!(Some(*id), at_kill.last().map(String::as_str), "{id}");
        assert_eq!(
            got[at_kill.len()],
            *id,
            "redelivered first after the restart"
        );
    }
    let mut once = got.clone();
    if !twice.is_empty() {
        once.remove(at_kill.len());
    }
    assert_eq!(once, published, "all, in order");
}

#[tokio::test(flavor = "multi_thread")]
async fn live_forwarding_applies_the_filter() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let receiver = CloudEventsReceiver::start();
    let forward = Forward::run(
        &server,
        &["--to", &receiver.url(), "--filter", "startup,identity=web*"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !forward.log().contains("receiving events") {
        assert!(
            Instant::now() < deadline,
            "not subscribed:\n{}",
            forward.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event = |t: EventType, identity: &str| {
        Event::builder(t)
            .identity(identity)
            .component("server")
            .version("0.29.4")
            .build()
            .unwrap()
    };
    let wanted = event(EventType::Startup, "web1.example.net");
    let events = [
        event(EventType::Alive, "web1.example.net"),
        event(EventType::Startup, "db1.example.net"),
        wanted.clone(),
    ];
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();
    wait_for(&receiver, 1, &[&forward]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received_ids(&receiver).len(), 1);
    let got: serde_json::Value = serde_json::from_str(&receiver.received()[0]).unwrap();
    assert_eq!(got["id"], wanted.id());
    assert_eq!(got["type"], "io.choria.lifecycle.v1.startup");
    assert_eq!(got["subject"], "web1.example.net");
    assert_eq!(got["mode"], "binary");
}

#[test]
fn a_bad_receiver_url_is_one_clear_line_and_exit_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(["forward", "--to", "nats://broker:4222"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "lifecycle: invalid receiver URL 'nats://broker:4222': expected an http or https URL\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_loses_nothing() {
    let mut server = NatsServer::start();
    let connection = connect(&server).await;
    connection
        .ensure_events_stream(DEFAULT_RETENTION)
        .await
        .unwrap();
    let receiver = CloudEventsReceiver::start();
    let forward = Forward::start(&server, &receiver.url(), "broker", &[]);
    wait_for_consumer(&connection, "broker", &forward).await;
    let mut published = publish(&connection).await;
    wait_for(&receiver, 100, &[&forward]).await;
    server.restart();
    published.extend(publish(&connection).await);

    let deadline = Instant::now() + Duration::from_secs(90);
    let distinct = |ids: &[String]| ids.iter().collect::<std::collections::HashSet<_>>().len();
    while distinct(&received_ids(&receiver)) < 2 * EVENTS {
        assert!(
            Instant::now() < deadline,
            "{} of {} events arrived:\n{}",
            distinct(&received_ids(&receiver)),
            2 * EVENTS,
            forward.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A broker killed outright may lose its latest record of acknowledgements: the events
    // after the last one it kept come again. At least once, then, and in order: the first
    // arrival of each event is in the order published.
    let got = received_ids(&receiver);
    let mut seen = std::collections::HashSet::new();
    let first: Vec<&String> = got.iter().filter(|id| seen.insert(*id)).collect();
    let published: Vec<&String> = published.iter().collect();
    assert_eq!(first, published, "all, first arrivals in order");
    // Every repeat belongs to one run of events delivered again after the restart.
    let repeats = got.len() - first.len();
    assert!(repeats < 200, "{repeats} repeats");
}
