//! Events per second for the hot paths: parsing Choria's reference alive event in both
//! formats, writing one in both formats, and building a new one.
//!
//! `cargo bench -p lifecycle-core --bench event -- --warm-up-time 1 --measurement-time 5`
//! Choria's Go parser does about 690,000 Choria-format and 257,000 CloudEvents parses a second.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lifecycle_core::{AnyEvent, Event, EventType, parse};

fn reference(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/go-choria")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "Choria's reference events are missing: expected {} (the project's ../shared): {e}",
            path.display()
        )
    });
    bytes.trim_ascii_end().to_vec()
}

fn benches(c: &mut Criterion) {
    let choria = reference("go_choria_alive.json");
    let cloudevent = reference("go_cloudevent_alive.json");
    let AnyEvent::Lifecycle(alive) = parse(&choria).unwrap().into_event() else {
        panic!("go_choria_alive.json is not a lifecycle event")
    };
    // What is measured is what Choria sends.
    assert_eq!(alive.to_json(), choria);
    assert_eq!(alive.cloudevent().to_json(), cloudevent);

    let mut group = c.benchmark_group("event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse/choria", |b| {
        b.iter(|| parse(black_box(&choria)).unwrap())
    });
    group.bench_function("parse/cloudevents", |b| {
        b.iter(|| parse(black_box(&cloudevent)).unwrap())
    });
    group.bench_function("serialise/choria", |b| {
        b.iter(|| black_box(&alive).to_json())
    });
    group.bench_function("serialise/cloudevents", |b| {
        b.iter(|| black_box(&alive).cloudevent().to_json())
    });
    group.bench_function("build/alive", |b| {
        b.iter(|| {
            Event::builder(EventType::Alive)
                .identity(black_box("node1.example.net"))
                .component(black_box("server"))
                .version(black_box("0.29.4"))
                .build()
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(event, benches);
criterion_main!(event);
