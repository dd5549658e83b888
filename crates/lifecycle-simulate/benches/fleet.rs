//! The simulator at full speed with 100,000 nodes against a local nats-server, and a tally
//! counting what it publishes.
//!
//! `cargo bench -p lifecycle-simulate --bench fleet`
//!
//! Each round, on a fresh server, runs a fleet of 100,000 servers (30% on 0.28.0, 70% on
//! 0.29.4) for `SECONDS`: the startup storm, then alives due every 100 ms (a million a
//! second, more than one publisher sends, so without a rate limit the simulator runs flat
//! out), an upgrade to 0.30.0 at 20,000 nodes a second and 100 restarts a second. Where
//! there is a tally, it runs in the same process and ingests from the server over its own
//! connection. Reported: events published per second, events the tally ingested per second
//! (all of them, over the time from the first to the last), and whether the tally's counts
//! equal the simulated fleet exactly at the end.
//!
//! First, flat out with no subscriber: the most the simulator publishes. Baselines, in the same run, with no subscriber: a bare async-nats client publishing alive
//! events of the same size as fast as it can, serialising each (subject and JSON) as any
//! publisher of new events must, and sending ready-made bytes (the client's and server's
//! ceiling).
//!
//! Then the simulator at a stated rate (`SUSTAINED_RATE`, or `LIFECYCLE_BENCH_RATE`) with a
//! tally subscribed live, and at half that rate with the tally reading `CHORIA_EVENTS`:
//! both must end with the tally's counts equal to the fleet's, or the bench fails.

use std::time::{Duration, Instant};

use lifecycle_core::{Event, EventType, Format};
use lifecycle_simulate::{FleetSpec, RunOptions, Simulation, Stats, Step, Upgrade, run};
use lifecycle_tally::{ComponentCount, Tally, TallyOptions};
use lifecycle_testsupport::{NatsServer, ServerOptions, connect, connect_with_events};

const NODES: usize = 100_000;
const SECONDS: u64 = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs this with --test: one short round each is enough there.
    let smoke = std::env::args().any(|a| a == "--test");
    let seconds = if smoke { 1 } else { SECONDS };
    let rate = std::env::var("LIFECYCLE_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(SUSTAINED_RATE);
    println!("simulation alone, no sink: {:.0} events/s", generate_rate());

    let ours = round(Tallying::None, seconds, Publisher::Simulator).await;
    let serialising = round(Tallying::None, seconds, Publisher::BareSerialising).await;
    let ready_made = round(Tallying::None, seconds, Publisher::BareReadyMade).await;
    report("flat out, no subscriber", "simulator", &ours);
    report("flat out, no subscriber", "bare, serialising", &serialising);
    report("flat out, no subscriber", "bare, ready-made", &ready_made);
    println!(
        "flat out: the simulator publishes at {:.0}% of a bare client serialising each event, \
         {:.0}% of one sending ready-made bytes",
        100.0 * ours.published / serialising.published,
        100.0 * ours.published / ready_made.published,
    );

    let live = round(Tallying::Live, seconds, Publisher::Rate(rate)).await;
    report(&format!("at {rate:.0}/s, live tally"), "simulator", &live);
    let stored_rate = rate / 2.0;
    let stored = round(Tallying::Stored, seconds, Publisher::Rate(stored_rate)).await;
    report(
        &format!("at {stored_rate:.0}/s, CHORIA_EVENTS tally"),
        "simulator",
        &stored,
    );
    for round in [&ours, &live, &stored] {
        assert_eq!(round.errors, 0);
    }
    assert_eq!(
        live.matched,
        Some(true),
        "the live tally did not match the fleet"
    );
    assert_eq!(
        stored.matched,
        Some(true),
        "the tally did not match the fleet"
    );
}

/// The rate the live tally is shown to keep up with (`LIFECYCLE_BENCH_RATE` overrides).
const SUSTAINED_RATE: f64 = 200_000.0;

fn report(setup: &str, publisher: &str, round: &Round) {
    let tally = match round.matched {
        Some(matched) => format!(
            "; tally ingested {:.0}/s, counts match: {matched}",
            round.ingested
        ),
        None => String::new(),
    };
    println!(
        "{setup:>30} {publisher:>16}: published {:>8.0}/s ({} events, {} errors){tally}",
        round.published, round.sent, round.errors
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Tallying {
    /// No subscriber: only the publisher and the server.
    None,
    /// A tally subscribed live, without JetStream.
    Live,
    /// The server stores `CHORIA_EVENTS`; the tally reads it through an ordered consumer.
    Stored,
}

#[derive(Clone, Copy, PartialEq)]
enum Publisher {
    /// `lifecycle_simulate::run` into a `lifecycle_nats::Publisher`, flat out.
    Simulator,
    /// The same, at most this many events a second.
    Rate(f64),
    /// A bare async-nats client publishing alive events it serialises one by one, with
    /// their subject: the least any publisher of new events does.
    BareSerialising,
    /// A bare async-nats client publishing ready-made bytes: the ceiling of the client and
    /// server.
    BareReadyMade,
}

struct Round {
    sent: u64,
    errors: u64,
    published: f64,
    ingested: f64,
    /// Whether a tally's counts equal the simulated fleet; `None` without one.
    matched: Option<bool>,
}

/// One round on a fresh server, so no round's events are in the next one's warm start.
async fn round(tallying: Tallying, seconds: u64, publisher: Publisher) -> Round {
    let jetstream = tallying == Tallying::Stored;
    let server = NatsServer::with_options(ServerOptions {
        jetstream,
        ..Default::default()
    });
    if jetstream {
        connect_with_events(&server).await;
    }
    let tally = Tally::new(TallyOptions::default());
    let ingest = if tallying == Tallying::None {
        None
    } else {
        let tally = tally.clone();
        let connection = connect(&server).await;
        Some(tokio::spawn(async move {
            tally.ingest(&connection, std::future::pending()).await
        }))
    };
    while ingest.is_some() && !tally.is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut simulation = Simulation::new(FleetSpec {
        nodes: NODES,
        versions: vec!["0.28.0:30".parse().unwrap(), "0.29.4:70".parse().unwrap()],
        alive_interval: Duration::from_millis(100),
        upgrade: Some(Upgrade {
            to: "0.30.0".into(),
            per_second: 20_000.0,
        }),
        restart_rate: 100.0,
        ..Default::default()
    })
    .unwrap();
    let start = Instant::now();
    let publisher_kind = publisher;
    let (sent, errors, published) = match publisher {
        Publisher::Simulator | Publisher::Rate(_) => {
            let mut publisher = connect(&server).await.publisher(Format::Choria);
            let options = RunOptions {
                duration: Some(Duration::from_secs(seconds)),
                rate: match publisher_kind {
                    Publisher::Rate(rate) => Some(rate),
                    _ => None,
                },
                ..Default::default()
            };
            let summary = run(
                &mut simulation,
                &mut publisher,
                &options,
                &Stats::default(),
                std::future::pending(),
            )
            .await
            .unwrap();
            (summary.sent, summary.errors, summary.rate())
        }
        Publisher::BareSerialising | Publisher::BareReadyMade => {
            let serialise = publisher == Publisher::BareSerialising;
            let sent = bare_publish(&server, seconds, serialise).await;
            (sent, 0, sent as f64 / start.elapsed().as_secs_f64())
        }
    };
    let Some(ingest) = ingest else {
        return Round {
            sent,
            errors,
            published,
            ingested: 0.0,
            matched: None,
        };
    };
    // The tally has ingested everything once it has processed as many events as were sent;
    // a live tally that fell behind lost some and never gets there.
    let deadline = Instant::now() + Duration::from_secs(60);
    while processed(&tally) < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ingested = processed(&tally) as f64 / start.elapsed().as_secs_f64();
    let matched = Some(tally.component_counts() == ComponentCount::list(simulation.counts()));
    ingest.abort();
    Round {
        sent,
        errors,
        published,
        ingested,
        matched,
    }
}

/// Events a second the simulation makes with nowhere to send them.
fn generate_rate() -> f64 {
    let mut simulation = Simulation::new(FleetSpec {
        nodes: NODES,
        alive_interval: Duration::from_secs(1),
        ..Default::default()
    })
    .unwrap();
    let start = Instant::now();
    let mut made = 0u64;
    while made < 2_000_000 {
        // A clock running 1000 times fast keeps alives always due.
        if let Step::Send(event) = simulation.next(start.elapsed() * 1000) {
            std::hint::black_box(event);
            made += 1;
        }
    }
    made as f64 / start.elapsed().as_secs_f64()
}

/// Events the tally has processed, from its own counter.
fn processed(tally: &Tally) -> u64 {
    let registry = tally.metrics().register("bench");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text.lines()
        .filter(|l| l.starts_with("bench_good_events_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Alive events a bare async-nats client publishes in `seconds`, flushed: serialised one
/// by one, or made beforehand.
async fn bare_publish(server: &NatsServer, seconds: u64, serialise: bool) -> u64 {
    let client = async_nats::connect(server.url()).await.unwrap();
    let events: Vec<Event> = (0..NODES)
        .map(|i| {
            Event::builder(EventType::Alive)
                .identity(FleetSpec::identity(i))
                .component("server")
                .version("0.29.4")
                .build()
                .unwrap()
        })
        .collect();
    let payloads: Vec<bytes::Bytes> = events.iter().map(|e| e.to_json().into()).collect();
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        for (event, payload) in events.iter().zip(&payloads).take(10_000) {
            if serialise {
                let subject = event.subject().unwrap();
                client.publish(subject, event.to_json().into()).await
            } else {
                let subject = "choria.lifecycle.event.alive.server";
                client.publish(subject, payload.clone()).await
            }
            .unwrap();
        }
        sent += 10_000;
    }
    client.flush().await.unwrap();
    sent
}
