//! End-to-end delivery through a local nats-server: events per second received (and, for
//! ours, parsed) by a subscriber, ours against a bare async-nats subscriber.
//!
//! `cargo bench -p lifecycle-nats --bench delivery`
//!
//! Both subscribers receive the same published stream: each round publishes the same
//! `EVENTS` alive events as fast as one publisher can, to a bare async-nats subscriber and
//! then to a `lifecycle_nats::Subscription`, and times each until it holds the last event.
//! Alternating rounds, rather than timing one subscriber after the other, keeps this VM's
//! drift out of the ratio. The result is the median rate of each over `ROUNDS` rounds.

use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Connection, Interest, Settings};
use lifecycle_testsupport::NatsServer;

const EVENTS: usize = 50_000;
const ROUNDS: usize = 15;

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs this with --test: a smoke run is enough there.
    let rounds = if std::env::args().any(|a| a == "--test") {
        1
    } else {
        ROUNDS
    };
    let server = NatsServer::start();
    let publisher = connect(&server).await.publisher(Format::Choria);
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| {
            Event::builder(EventType::Alive)
                .identity(format!("node{i}.example.net"))
                .component("server")
                .version("0.29.4")
                .build()
                .unwrap()
        })
        .collect();

    let bare = async_nats::ConnectOptions::new()
        .subscription_capacity(EVENTS * 2)
        .connect(server.url())
        .await
        .unwrap();
    let ours = connect(&server).await;

    let mut subscriber = bare.subscribe("choria.lifecycle.event.*.*").await.unwrap();
    bare.flush().await.unwrap();
    let mut subscription = ours.subscribe(&Interest::default()).await.unwrap();
    ours.client().flush().await.unwrap();

    let (mut bare_rates, mut our_rates) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let ((), bare_rate, our_rate) = tokio::join!(
            async {
                publisher.publish_all(&events).await.unwrap();
                publisher.flush().await.unwrap();
            },
            receive(start, &mut subscriber, |m| {
                std::hint::black_box(&m.payload);
            }),
            receive(start, &mut subscription, |received| {
                std::hint::black_box(received.unwrap().parsed.event());
            }),
        );
        bare_rates.push(bare_rate);
        our_rates.push(our_rate);
        assert_eq!(subscription.dropped(), 0, "our subscription dropped events");
    }
    let (bare, ours) = (median(bare_rates), median(our_rates));
    println!("delivery of {EVENTS} alive events through nats-server, median of {rounds} rounds:");
    println!("  bare async-nats subscriber        {bare:>10.0} events/s");
    println!("  lifecycle_nats::Subscription      {ours:>10.0} events/s (received and parsed)");
    println!(
        "  ours / bare                       {:>10.1} %",
        100.0 * ours / bare
    );
}

/// Receives a round's events; the rate from `start` until the last one arrived.
async fn receive<S: Stream + Unpin>(
    start: Instant,
    subscriber: &mut S,
    mut consume: impl FnMut(S::Item),
) -> f64 {
    let mut received = 0;
    while received < EVENTS {
        // A lost event fails the run with a count rather than hanging it.
        match tokio::time::timeout(Duration::from_secs(5), subscriber.next()).await {
            Ok(Some(item)) => consume(item),
            _ => panic!("only {received} of {EVENTS} events arrived"),
        }
        received += 1;
    }
    EVENTS as f64 / start.elapsed().as_secs_f64()
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        // Room for a whole round, so a momentary lag is never a drop.
        subscription_capacity: Some(EVENTS * 2),
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    Connection::connect(&settings).await.unwrap()
}
