//! Events per second through `react`'s rules and `forward --durable`, end to end: a local
//! nats-server with JetStream, a durable consumer per run, and real actions: an `exec` of
//! `/bin/true`, and an HTTP receiver that answers 200 after 10 ms.
//!
//! `cargo bench -p lifecycle-react --bench react`
//!
//! Each run starts the rule on a fresh durable consumer, publishes the events (1,000
//! identities in turn, so that up to 1,000 can run in parallel), and times from the first
//! publish until the rule's `succeeded` counter holds them all. Bench ids:
//!
//! - `react/exec-true/cN`: a rule `exec = ["/bin/true", "{{ identity }}"]`, concurrency N;
//! - `react/http-10ms/cN`: a rule `http = { url = ... }`, concurrency N: the same engine and
//!   handler as `forward --durable --concurrency N` (the CLI only wires them);
//! - `forward-before/http-10ms`: the loop `forward --durable` ran before the engine, kept
//!   here as the baseline: a durable consumer with one event in flight, each POSTed, then
//!   acknowledged, then the next.
//!
//! Each case runs `RUNS` times; the median and range of the rates are printed.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use futures_util::StreamExt;
use lifecycle_cloudevents::{Forwarder, Mode, to_cloudevent};
use lifecycle_core::{Event, EventType, Format};
use lifecycle_deliver::Metrics;
use lifecycle_nats::{ConnectOptions, Connection, DEFAULT_RETENTION, Interest, Settings};
use lifecycle_react::{Options, Rules, run};
use lifecycle_testsupport::NatsServer;

const RUNS: usize = 5;
const IDENTITIES: usize = 1000;

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs this with --test: one small run is enough there.
    let smoke = std::env::args().any(|a| a == "--test");
    let runs = if smoke { 1 } else { RUNS };
    let scale = |n: usize| if smoke { 20 } else { n };
    let server = NatsServer::start();
    let connection = connect(&server).await;
    connection
        .ensure_events_stream(DEFAULT_RETENTION)
        .await
        .unwrap();
    let receiver = receiver().await;

    let mut report = Vec::new();
    for (concurrency, events) in [(1, 300), (10, 2000), (100, 4000)] {
        let rules = format!(
            "[[rules]]\nname = \"true\"\nfilter = \"startup\"\nexec = [\"/bin/true\", \"{{{{ identity }}}}\"]\nconcurrency = {concurrency}\n"
        );
        let id = format!("react/exec-true/c{concurrency}");
        report.push(react_case(&connection, &id, &rules, scale(events), runs).await);
    }
    for (concurrency, events) in [(1, 200), (10, 1500), (100, 6000)] {
        let rules = format!(
            "[[rules]]\nname = \"http\"\nfilter = \"startup\"\nhttp = {{ url = \"{receiver}\" }}\nconcurrency = {concurrency}\n"
        );
        let id = format!("react/http-10ms/c{concurrency}");
        report.push(react_case(&connection, &id, &rules, scale(events), runs).await);
    }
    report.push(before_case(&connection, &receiver, scale(200), runs).await);
    println!("\n{:<28} {:>10} {:>22}", "bench id", "median/s", "range/s");
    for (id, rates) in report {
        let (median, low, high) = summary(rates);
        println!(
            "{id:<28} {median:>10.0} {:>22}",
            format!("{low:.0} - {high:.0}")
        );
    }
}

async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    Connection::connect(&Settings::resolve_with(&options, None, &[]).unwrap())
        .await
        .unwrap()
}

/// An HTTP receiver answering 200 to every POST after 10 ms; its URL.
async fn receiver() -> String {
    let router = Router::new().route(
        "/",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(lifecycle_http::serve(
        listener,
        router,
        lifecycle_http::Limits::default(),
        std::future::pending(),
    ));
    url
}

fn events(count: usize) -> Vec<Event> {
    (0..count)
        .map(|i| {
            Event::builder(EventType::Startup)
                .identity(format!("node{}.example.net", i % IDENTITIES))
                .component("server")
                .version("0.29.4")
                .build()
                .unwrap()
        })
        .collect()
}

async fn publish(connection: &Connection, events: &[Event]) {
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(events).await.unwrap();
    publisher.flush().await.unwrap();
}

async fn wait_for_consumer(connection: &Connection, name: &str) {
    let js = async_nats::jetstream::new(connection.client().clone());
    let stream = js.get_stream("CHORIA_EVENTS").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while stream.consumer_info(name).await.is_err() {
        assert!(Instant::now() < deadline, "no consumer {name}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Events per second through the rules `rules` (one rule), `runs` times.
async fn react_case(
    connection: &Connection,
    id: &str,
    rules: &str,
    count: usize,
    runs: usize,
) -> (String, Vec<f64>) {
    let rules = Rules::parse(rules, std::path::Path::new("bench.toml")).unwrap();
    let rule = rules.rules[0].name.clone();
    let mut rates = Vec::new();
    for n in 0..runs {
        let durable = format!("{}-{n}", id.replace(['/', '-'], "_"));
        let metrics = Metrics::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = Options::new(durable.clone());
        let running = {
            let (connection, rules, metrics) = (connection.clone(), rules.clone(), metrics.clone());
            tokio::spawn(async move {
                run(&connection, &rules, &options, &metrics, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            })
        };
        wait_for_consumer(connection, &format!("{durable}-{rule}")).await;
        let sent = events(count);
        let start = Instant::now();
        publish(connection, &sent).await;
        let done = metrics.rule(&rule);
        while done.succeeded() < count as u64 {
            assert!(start.elapsed() < Duration::from_secs(300), "{id}: too slow");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        eprintln!("{id} run {n}: {count} events, {rate:.0}/s");
        rates.push(rate);
        let _ = stop.send(());
        running.await.unwrap();
    }
    (id.to_owned(), rates)
}

/// The loop `forward --durable` ran before the engine: one event in flight, POSTed, then
/// acknowledged (waiting for the server), then the next.
async fn before_case(
    connection: &Connection,
    receiver: &str,
    count: usize,
    runs: usize,
) -> (String, Vec<f64>) {
    let id = "forward-before/http-10ms";
    let forwarder = Forwarder::new(receiver, Mode::Binary).unwrap();
    let interest = Interest::default().types([EventType::Startup]);
    let mut rates = Vec::new();
    for n in 0..runs {
        let mut durable = connection
            .durable(&format!("before_{n}"), &interest, Duration::from_secs(30))
            .await
            .unwrap();
        let sent = events(count);
        let start = Instant::now();
        publish(connection, &sent).await;
        for _ in 0..count {
            let delivery = durable.next().await.unwrap().unwrap();
            forwarder
                .attempt(to_cloudevent(delivery.event()).unwrap())
                .await
                .unwrap();
            delivery.ack().await.unwrap();
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        eprintln!("{id} run {n}: {count} events, {rate:.0}/s");
        rates.push(rate);
    }
    (id.to_owned(), rates)
}

/// Median, lowest and highest.
fn summary(mut rates: Vec<f64>) -> (f64, f64, f64) {
    rates.sort_by(f64::total_cmp);
    let median = rates.get(rates.len() / 2).copied().unwrap_or_default();
    let low = rates.first().copied().unwrap_or_default();
    let high = rates.last().copied().unwrap_or_default();
    (median, low, high)
}
