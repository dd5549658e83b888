//! `lifecycle forward --durable`, run as a user runs it, against a real nats-server and a
//! CloudEvents receiver built on the Python SDK: nothing is lost while the receiver is down,
//! nor when the forwarder is killed and started again; the only event delivered twice is
//! the one in flight at the kill, with the same id. Every child process is killed on drop.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, metric, scrape_until};
use lifecycle_core::{Event, EventType};
use lifecycle_nats::Connection;
use lifecycle_testsupport::{
    CloudEventsReceiver, Logged, NatsServer, VERSION, alive, connect_with_events, event, publish,
    started, started_with_events, wait_for_consumer, wait_settled,
};

const EVENTS: usize = 1000;

/// How long a forwarder may take to count what it did (after the receiver saw it).
const METRICS_WITHIN: Duration = Duration::from_secs(30);

/// A running `lifecycle forward`.
type Forward = Logged;

/// A free loopback port for `--metrics`, and the address to give it.
fn metrics_address() -> (u16, String) {
    let port = free_port();
    (port, format!("127.0.0.1:{port}"))
}

fn start_forward(server: &NatsServer, to: &str, durable: &str, extra: &[&str]) -> Forward {
    run_forward(
        server,
        &[
            &["--to", to, "--durable", durable, "--ack-wait", "2s"],
            extra,
        ]
        .concat(),
    )
}

fn run_forward(server: &NatsServer, args: &[&str]) -> Forward {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
    command
        .arg("forward")
        .args(["--max-backoff", "200ms", "-vv"])
        .args(args)
        .args(["--server", &server.url()]);
    Logged::spawn(command)
}

/// Publishes [`EVENTS`] alive events of ten nodes; their ids in order.
async fn publish_thousand(connection: &Connection) -> Vec<String> {
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| alive(&format!("node{}.example.net", i % 10), &format!("0.29.{i}")))
        .collect();
    publish(connection, &events).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn receiver_down_while_a_thousand_are_published_misses_nothing() {
    let (server, connection) = started_with_events().await;
    let mut receiver = CloudEventsReceiver::start();
    receiver.stop();
    let (port, metrics) = metrics_address();
    let forward = start_forward(
        &server,
        &receiver.url(),
        "down",
        &["--metrics", &metrics, "--mode", "structured"],
    );
    wait_for_consumer(&connection, "down", &[&forward]).await;

    let published = publish_thousand(&connection).await;
    let before = scrape_until(port, "a retry", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_forward_retried_total") > 0
    });
    assert!(receiver.received().is_empty());
    assert_eq!(metric(&before, "lifecycle_forward_succeeded_total"), 0);

    receiver.start_again();
    wait_for(&receiver, EVENTS, &[&forward]).await;
    // Settled: nothing left to deliver, so nothing more can arrive.
    wait_settled(&connection, "down", &[&forward]).await;
    assert_eq!(received_ids(&receiver), published, "all, once, in order");
    let after = scrape_until(port, "every success counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_forward_succeeded_total") == EVENTS as u64
    });
    assert_eq!(metric(&after, "lifecycle_forward_dead_lettered_total"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarder_restarts_lose_nothing_and_repeat_only_the_event_in_flight() {
    let (server, connection) = started_with_events().await;
    // Slow to answer, so that the kill below most likely comes between the receiver
    // recording an event and the forwarder acknowledging it.
    let mut receiver = CloudEventsReceiver::start_slow(Duration::from_millis(5));
    receiver.stop();

    // Receiver down while the events are published; the forwarder is killed meanwhile.
    let mut first = start_forward(&server, &receiver.url(), "restart", &[]);
    wait_for_consumer(&connection, "restart", &[&first]).await;
    let published = publish_thousand(&connection).await;
    // Killed once it has tried the receiver (and failed), holding events unacknowledged.
    first.logged("retrying").await;
    first.kill();

    // Back up, and killed again in the middle of delivering.
    let mut second = start_forward(&server, &receiver.url(), "restart", &[]);
    receiver.start_again();
    wait_for(&receiver, 300, &[&first, &second]).await;
    second.kill();
    // The receiver is stopped too, so that what it holds is final: a request the forwarder
    // sent just before its kill is either recorded now or never (and delivered again).
    receiver.stop();
    let at_kill = received_ids(&receiver);
    receiver.start_again();
    assert!(
        at_kill.len() < EVENTS,
        "the kill came too late to test anything"
    );

    let third = start_forward(&server, &receiver.url(), "restart", &[]);
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
    wait_settled(&connection, "restart", &[&third]).await;
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
    let (server, connection) = started().await;
    let receiver = CloudEventsReceiver::start();
    let forward = run_forward(
        &server,
        &["--to", &receiver.url(), "--filter", "startup,identity=web*"],
    );
    forward.logged("receiving events").await;
    let event = |t: EventType, identity: &str| event(t, identity, "server", VERSION);
    let wanted = event(EventType::Startup, "web1.example.net");
    // Forwarded one at a time in order: once the last one is there, any of those before it
    // that the filter let through would be too.
    let last = event(EventType::Startup, "web2.example.net");
    let events = [
        event(EventType::Alive, "web1.example.net"),
        event(EventType::Startup, "db1.example.net"),
        wanted.clone(),
        last.clone(),
    ];
    publish(&connection, &events).await;
    wait_for(&receiver, 2, &[&forward]).await;
    assert_eq!(
        received_ids(&receiver),
        [wanted.id().to_owned(), last.id().to_owned()]
    );
    let got: serde_json::Value = serde_json::from_str(&receiver.received()[0]).unwrap();
    assert_eq!(got["id"], wanted.id());
    assert_eq!(got["type"], "io.choria.lifecycle.v1.startup");
    assert_eq!(got["subject"], "web1.example.net");
    assert_eq!(got["mode"], "binary");
}

/// A live forward stuck on a receiver that never answers falls behind: what the subscription
/// cannot hold is dropped, counted in `_dropped_total` and told in a few warnings, not one per
/// event.
#[tokio::test(flavor = "multi_thread")]
async fn live_forwarding_behind_a_receiver_that_never_answers_counts_its_drops() {
    let (server, connection) = started().await;
    // Accepts connections (the kernel does) and never reads a request.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free_port();
    let forward = run_forward(
        &server,
        &[
            "--to",
            &format!("http://{}", silent.local_addr().unwrap()),
            "--metrics",
            &format!("127.0.0.1:{port}"),
        ],
    );
    forward.logged("receiving events").await;
    // More than a subscription holds (async-nats buffers 65,536 messages).
    let events: Vec<Event> = (0..100_000)
        .map(|n| alive(&format!("n{n}"), VERSION))
        .collect();
    publish(&connection, &events).await;
    let scraped = scrape_until(port, "a drop", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_forward_dropped_total") > 0
    });
    let dropped = metric(&scraped, "lifecycle_forward_dropped_total");
    assert!(dropped < 100_000, "{dropped}");
    let log = forward.log();
    let warnings = log.matches("slow consumer").count();
    assert!((1..=5).contains(&warnings), "{warnings} warnings:\n{log}");
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
        "lifecycle: invalid receiver URL: unknown scheme 'nats' (expected http:// or https://)\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_loses_nothing() {
    let mut server = NatsServer::start();
    let connection = connect_with_events(&server).await;
    let receiver = CloudEventsReceiver::start();
    let forward = start_forward(&server, &receiver.url(), "broker", &[]);
    wait_for_consumer(&connection, "broker", &[&forward]).await;
    let mut published = publish_thousand(&connection).await;
    wait_for(&receiver, 100, &[&forward]).await;
    server.restart();
    published.extend(publish_thousand(&connection).await);

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
    wait_settled(&connection, "broker", &[&forward]).await;
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

const DEAD: &str = "lifecycle.dead.forward";

/// An event whose identity holds a newline: it cannot be a `ce-subject` header. Our own
/// builder refuses to make one, so it is written as an attacker would publish it.
fn poison() -> Event {
    let mut json = serde_json::to_value(alive("bad.node.example.net", VERSION)).unwrap();
    json["identity"] = "bad\nnode.example.net".into();
    Event::from_json(&serde_json::to_vec(&json).unwrap()).unwrap()
}

/// Publishes [`poison`], then twenty good events: all of them.
async fn publish_poison_then_twenty(connection: &Connection) -> (Event, Vec<Event>) {
    let bad = poison();
    let good: Vec<Event> = (0..20)
        .map(|i| alive(&format!("node{i}.example.net"), VERSION))
        .collect();
    publish(connection, &[vec![bad.clone()], good.clone()].concat()).await;
    (bad, good)
}

/// Subscribes to the dead-letter subject.
async fn dead_letters(connection: &Connection) -> async_nats::Subscriber {
    let subscriber = connection.client().subscribe(DEAD).await.unwrap();
    connection.client().flush().await.unwrap();
    subscriber
}

async fn next_dead_letter(
    letters: &mut async_nats::Subscriber,
    forward: &Forward,
) -> async_nats::Message {
    use futures_util::StreamExt;
    tokio::time::timeout(Duration::from_secs(30), letters.next())
        .await
        .unwrap_or_else(|_| panic!("no dead letter in 30s:\n{}", forward.log()))
        .unwrap()
}

fn header(message: &async_nats::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| panic!("no {name} header in {:?}", message.headers))
}

/// Lines of the log that report a dead letter.
fn dead_letter_lines(forward: &Forward) -> Vec<String> {
    forward
        .log()
        .lines()
        .filter(|l| l.contains("dead-lettering the event"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_event_is_dead_lettered_and_the_twenty_behind_it_arrive_in_order() {
    let (server, connection) = started_with_events().await;
    let receiver = CloudEventsReceiver::start();
    let (port, metrics) = metrics_address();
    let forward = start_forward(
        &server,
        &receiver.url(),
        "poison",
        &["--metrics", &metrics, "--dead-letter", DEAD],
    );
    wait_for_consumer(&connection, "poison", &[&forward]).await;
    let mut letters = dead_letters(&connection).await;

    let (bad, good) = publish_poison_then_twenty(&connection).await;

    wait_for(&receiver, 20, &[&forward]).await;
    let letter = next_dead_letter(&mut letters, &forward).await;
    assert_eq!(
        letter.payload.as_ref(),
        bad.to_json().as_slice(),
        "as published"
    );
    assert_eq!(
        letter.subject.as_str(),
        DEAD,
        "published on the --dead-letter subject"
    );
    assert!(
        header(&letter, "Lifecycle-Dead-Letter-Reason").starts_with(
            "the event cannot be made into an HTTP request in binary mode (an attribute such as \
             the identity holds a character an HTTP header cannot; structured mode can carry it)"
        ),
        "{:?}",
        letter.headers
    );
    assert_eq!(header(&letter, "Lifecycle-Dead-Letter-Attempts"), "1");
    assert_eq!(header(&letter, "Lifecycle-Dead-Letter-Consumer"), "poison");
    assert_eq!(
        header(&letter, "Lifecycle-Dead-Letter-Handler"),
        receiver.url()
    );
    assert_eq!(header(&letter, "Lifecycle-Event-Id"), bad.id());
    assert_eq!(
        header(&letter, "Lifecycle-Dead-Letter-Subject"),
        "choria.lifecycle.event.alive.server"
    );
    assert_eq!(
        header(&letter, "Lifecycle-Dead-Letter-Stream-Sequence"),
        "1"
    );

    wait_settled(&connection, "poison", &[&forward]).await;
    let ids: Vec<String> = good.iter().map(|e| e.id().to_owned()).collect();
    assert_eq!(received_ids(&receiver), ids, "all, once, in order");
    let scraped = scrape_until(port, "every event counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_forward_succeeded_total") == 20
    });
    assert_eq!(metric(&scraped, "lifecycle_forward_dead_lettered_total"), 1);
    assert_eq!(metric(&scraped, "lifecycle_forward_succeeded_total"), 20);
    assert_eq!(metric(&scraped, "lifecycle_forward_retried_total"), 0);
    assert_eq!(metric(&scraped, "lifecycle_forward_dropped_total"), 0);
    let lines = dead_letter_lines(&forward);
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    assert!(
        lines[0].contains(&format!("id={} ", bad.id())),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(r"identity=bad\nnode.example.net "),
        "escaped: {}",
        lines[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_event_does_not_stall_live_forwarding() {
    let (server, connection) = started().await;
    let receiver = CloudEventsReceiver::start();
    let (port, metrics) = metrics_address();
    let url = receiver.url();
    let args = ["--to", &url, "--metrics", &metrics, "--dead-letter", DEAD];
    let forward = run_forward(&server, &args);
    forward.logged("receiving events").await;
    let mut letters = dead_letters(&connection).await;
    let (bad, good) = publish_poison_then_twenty(&connection).await;
    // Dead-lettered at its first attempt (never retried, see the metrics below), so the
    // twenty behind it are not held up.
    wait_for(&receiver, 20, &[&forward]).await;
    let letter = next_dead_letter(&mut letters, &forward).await;
    assert_eq!(letter.payload.as_ref(), bad.to_json().as_slice());
    assert!(
        letter
            .headers
            .as_ref()
            .unwrap()
            .get("Lifecycle-Dead-Letter-Consumer")
            .is_none()
    );
    assert_eq!(header(&letter, "Lifecycle-Dead-Letter-Attempts"), "1");
    let ids: Vec<String> = good.iter().map(|e| e.id().to_owned()).collect();
    assert_eq!(received_ids(&receiver), ids);
    let scraped = scrape_until(port, "every event counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_forward_succeeded_total") == 20
    });
    assert_eq!(metric(&scraped, "lifecycle_forward_dead_lettered_total"), 1);
    assert_eq!(metric(&scraped, "lifecycle_forward_retried_total"), 0);
    assert_eq!(dead_letter_lines(&forward).len(), 1);
}

/// A durable forward of `count` events to a receiver that answers `status` for the one at
/// `index`, with `args` added: that one is dead-lettered after `attempts` (each refusal
/// recorded by the receiver), the others arrive in order.
async fn refused_by_the_receiver(
    count: usize,
    index: usize,
    status: u16,
    args: &[&str],
    attempts: u64,
) {
    let (server, connection) = started_with_events().await;
    let events: Vec<Event> = (0..count)
        .map(|i| alive(&format!("node{i}.example.net"), VERSION))
        .collect();
    let refused = events[index].id().to_owned();
    let receiver = CloudEventsReceiver::start_answering(&[(&refused, status)]);
    let (port, metrics) = metrics_address();
    let forward = start_forward(
        &server,
        &receiver.url(),
        "refusing",
        &[&["--metrics", &metrics, "--dead-letter", DEAD], args].concat(),
    );
    wait_for_consumer(&connection, "refusing", &[&forward]).await;
    let mut letters = dead_letters(&connection).await;
    publish(&connection, &events).await;

    wait_for(&receiver, count - 1, &[&forward]).await;
    let letter = next_dead_letter(&mut letters, &forward).await;
    assert_eq!(header(&letter, "Lifecycle-Event-Id"), refused);
    assert_eq!(
        header(&letter, "Lifecycle-Dead-Letter-Reason"),
        format!("receiver answered HTTP {status}")
    );
    assert_eq!(
        header(&letter, "Lifecycle-Dead-Letter-Attempts"),
        attempts.to_string()
    );
    wait_settled(&connection, "refusing", &[&forward]).await;
    let expected: Vec<String> = events
        .iter()
        .map(|e| e.id().to_owned())
        .filter(|id| *id != refused)
        .collect();
    assert_eq!(received_ids(&receiver), expected, "the rest, in order");
    assert_eq!(
        receiver.refused(),
        vec![format!("{{\"id\": \"{refused}\", \"status\": {status}}}"); attempts as usize],
        "refused at each attempt, no more"
    );
    let scraped = scrape_until(port, "every event counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_forward_succeeded_total") == count as u64 - 1
    });
    assert_eq!(metric(&scraped, "lifecycle_forward_dead_lettered_total"), 1);
    assert_eq!(
        metric(&scraped, "lifecycle_forward_retried_total"),
        attempts - 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_receiver_refuses_with_400_is_dead_lettered_once_and_the_rest_arrive() {
    // A 400 is permanent: never retried.
    refused_by_the_receiver(10, 4, 400, &[], 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_attempts_three_with_a_receiver_answering_503_dead_letters_after_exactly_three() {
    refused_by_the_receiver(3, 0, 503, &["--max-attempts", "3"], 3).await;
}

#[test]
fn attempts_is_still_accepted_and_a_dead_letter_subject_is_checked() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .arg("forward")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // --attempts parses (the URL is what is refused).
    let output = run(&["--to", "nats://broker:4222", "--attempts", "3"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "lifecycle: invalid receiver URL: unknown scheme 'nats' (expected http:// or https://)\n"
    );
    let server = NatsServer::start();
    let output = run(&[
        "--to",
        "http://127.0.0.1:9/",
        "--server",
        &server.url(),
        "--dead-letter",
        "choria.lifecycle.dead",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "lifecycle: dead-letter subject \"choria.lifecycle.dead\" is where events are published: \
         they would be received again\n"
    );
}
