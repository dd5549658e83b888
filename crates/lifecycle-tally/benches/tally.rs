//! The tally's throughput against Choria's Go tally (one core, this machine): processing
//! parsed events, parsing and processing, with 50,000 known nodes and with a million new
//! ones, a `/metrics` scrape of a million-node fleet, and listing that fleet through a filter
//! that no node passes (so every node is looked at), against the same walk without one.
//! `tally/clocks/*`: a million new nodes whose events are stamped by clocks in order,
//! reversed, in a saw-tooth and with one node in a hundred an hour behind; the in-order
//! one is the baseline the others are measured against in the same run.
//!
//! `cargo bench -p lifecycle-tally --bench tally`

#![allow(
    missing_docs,
    reason = "criterion_group! writes an undocumented pub fn"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lifecycle_core::{AnyEvent, Event, EventType, Filter, parse};
use lifecycle_http::prometheus_text;
use lifecycle_tally::{MAX_PAGE_SIZE, NodeQuery, Tally, TallyOptions};

#[path = "common/clocks.rs"]
mod clocks;
use clocks::{CLOCKS, STORED, alive_at};

// Each event is applied as the tally applies what it reads from `CHORIA_EVENTS`
// (`Tally::observe_received`, stored at `STORED`), the clock read only when a receipt
// passes its last reading.

const KNOWN: usize = 50_000;
const NEW: usize = 1_000_000;

fn alive(i: usize) -> Event {
    Event::builder(EventType::Alive)
        .identity(format!("node{i}.example.net"))
        .component("server")
        .version(["0.28.0", "0.29.4"][i % 2])
        .build()
        .unwrap()
}

fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("tally");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(NEW as u64));
    for (name, stamp) in CLOCKS {
        let events: Vec<AnyEvent> = (0..NEW)
            .map(|i| AnyEvent::Lifecycle(alive_at(i, stamp(i))))
            .collect();
        group.bench_function(format!("clocks/1m_new_nodes_{name}"), |b| {
            b.iter_batched(
                ready_tally,
                |tally| {
                    events
                        .iter()
                        .for_each(|e| tally.observe_received(black_box(e), STORED));
                    tally
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Payloads one after another in one buffer, as they arrive in a connection's read buffer.
struct Payloads {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Payloads {
    fn new(events: &[AnyEvent]) -> Payloads {
        let (mut bytes, mut ends) = (Vec::new(), Vec::with_capacity(events.len()));
        for event in events {
            bytes.extend_from_slice(&event.to_json());
            ends.push(bytes.len());
        }
        Payloads { bytes, ends }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start..end])
    }
}

fn ready_tally() -> Tally {
    let tally = Tally::new(TallyOptions::default());
    tally.set_ready(true);
    tally
}

fn throughput(c: &mut Criterion) {
    let known: Vec<AnyEvent> = (0..KNOWN).map(|i| AnyEvent::Lifecycle(alive(i))).collect();
    let known_bytes = Payloads::new(&known);
    let new: Vec<AnyEvent> = (0..NEW).map(|i| AnyEvent::Lifecycle(alive(i))).collect();
    let new_bytes = Payloads::new(&new);

    let mut group = c.benchmark_group("tally");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    // 50,000 nodes already known, each event an alive refreshing one of them.
    group.throughput(Throughput::Elements(KNOWN as u64));
    let tally = ready_tally();
    known.iter().for_each(|e| tally.observe_received(e, STORED));
    group.bench_function("process/50k_known_nodes", |b| {
        b.iter(|| {
            known
                .iter()
                .for_each(|e| tally.observe_received(black_box(e), STORED))
        })
    });
    group.bench_function("parse_process/50k_known_nodes", |b| {
        b.iter(|| {
            for bytes in known_bytes.iter() {
                tally.observe_received(parse(black_box(bytes)).unwrap().event(), STORED);
            }
        })
    });

    // A million nodes, every one new to an empty tally.
    group.throughput(Throughput::Elements(NEW as u64));
    group.bench_function("process/1m_new_nodes", |b| {
        b.iter_batched(
            ready_tally,
            |tally| {
                new.iter()
                    .for_each(|e| tally.observe_received(black_box(e), STORED));
                tally
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("parse_process/1m_new_nodes", |b| {
        b.iter_batched(
            ready_tally,
            |tally| {
                for bytes in new_bytes.iter() {
                    tally.observe_received(parse(black_box(bytes)).unwrap().event(), STORED);
                }
                tally
            },
            BatchSize::PerIteration,
        )
    });

    // A scrape of the million-node fleet: encoding the registry as /metrics does.
    let tally = ready_tally();
    new.iter().for_each(|e| tally.observe_received(e, STORED));
    let registry = tally.metrics().register("lifecycle_tally");
    group.throughput(Throughput::Elements(1));
    group.bench_function("scrape/1m_nodes", |b| {
        b.iter(|| {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
            black_box(prometheus_text(&text))
        })
    });

    // Every node looked at, none listed: the cost of the filter per node, against the walk
    // alone (a version no node runs).
    group.throughput(Throughput::Elements(NEW as u64));
    let walk = NodeQuery {
        version: Some("9.9.9".into()),
        limit: MAX_PAGE_SIZE,
        ..Default::default()
    };
    group.bench_function("list/1m_nodes_walk", |b| {
        b.iter(|| assert!(tally.nodes_page(black_box(&walk)).nodes.is_empty()))
    });
    let filtered = NodeQuery {
        filter: Filter::parse("component=server,.version<0.1.0").unwrap(),
        limit: MAX_PAGE_SIZE,
        ..Default::default()
    };
    group.bench_function("list/1m_nodes_filtered", |b| {
        b.iter(|| assert!(tally.nodes_page(black_box(&filtered)).nodes.is_empty()))
    });
    group.finish();
}

criterion_group!(benches, throughput, clocks);
criterion_main!(benches);
