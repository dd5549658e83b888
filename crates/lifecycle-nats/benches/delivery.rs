//! End-to-end delivery through a local nats-server: events per second received (and, for
//! ours, parsed) by a subscriber, ours against a bare async-nats subscriber, on the same
//! published stream of alive events.
//!
//! Each iteration publishes `EVENTS` events as fast as one publisher can and times until the
//! subscriber holds the last one.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Connection, Interest, Settings};
use lifecycle_testsupport::NatsServer;
use tokio::runtime::Runtime;

const EVENTS: u64 = 50_000;

struct Bench {
    runtime: Runtime,
    server: NatsServer,
    publisher: lifecycle_nats::Publisher,
    events: Vec<Event>,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = NatsServer::start();
        let publisher = runtime.block_on(connect(&server)).publisher(Format::Choria);
        let events = (0..EVENTS)
            .map(|i| {
                Event::builder(EventType::Alive)
                    .identity(format!("node{i}.example.net"))
                    .component("server")
                    .version("0.29.4")
                    .build()
                    .unwrap()
            })
            .collect();
        Bench {
            runtime,
            server,
            publisher,
            events,
        }
    }

    async fn publish(&self) -> Instant {
        let start = Instant::now();
        self.publisher.publish_all(&self.events).await.unwrap();
        self.publisher.flush().await.unwrap();
        start
    }
}

/// Waits, untimed, after subscribing. Right after the previous iteration's subscription is
/// dropped and a new one made, nats-server 2.15 was seen to route a few messages to the old
/// one for a moment, even after a flush; a pause keeps that out of the figures.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The next message, or `None` when none comes for 5 seconds: a lost event then fails the
/// run with a count instead of hanging it.
async fn bounded<T>(next: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .ok()
        .flatten()
}

async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        // Room for a whole iteration, so a momentary lag is never a drop.
        subscription_capacity: Some(EVENTS as usize * 2),
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    Connection::connect(&settings).await.unwrap()
}

fn delivery(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("delivery");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    group.bench_function("bare_async_nats", |b| {
        b.iter_custom(|iters| {
            bench.runtime.block_on(async {
                let client = async_nats::ConnectOptions::new()
                    .subscription_capacity(EVENTS as usize * 2)
                    .connect(bench.server.url())
                    .await
                    .unwrap();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut subscriber = client
                        .subscribe("choria.lifecycle.event.*.*")
                        .await
                        .unwrap();
                    client.flush().await.unwrap();
                    settle().await;
                    let start = bench.publish().await;
                    let mut received = 0;
                    while received < EVENTS {
                        let Some(message) = bounded(subscriber.next()).await else {
                            break;
                        };
                        std::hint::black_box(&message.payload);
                        received += 1;
                    }
                    assert_eq!(received, EVENTS, "the bare subscriber lost events");
                    total += start.elapsed();
                }
                total
            })
        })
    });

    group.bench_function("lifecycle_subscription", |b| {
        b.iter_custom(|iters| {
            bench.runtime.block_on(async {
                let connection = connect(&bench.server).await;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut events = connection.subscribe(&Interest::default()).await.unwrap();
                    connection.client().flush().await.unwrap();
                    settle().await;
                    let start = bench.publish().await;
                    let mut received = 0;
                    while received < EVENTS {
                        let Some(event) = bounded(events.next()).await else {
                            break;
                        };
                        std::hint::black_box(event.unwrap().parsed.event());
                        received += 1;
                    }
                    assert_eq!(received, EVENTS, "our subscriber lost events");
                    total += start.elapsed();
                    assert_eq!(events.dropped(), 0);
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, delivery);
criterion_main!(benches);
