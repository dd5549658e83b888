//! Events per second through `Filter::matches`, the hot path of `view`, `wait`, `forward`
//! and the tally's feed: a `.field` on a known field and on an unknown member, each against
//! the evaluation before issue 11 (serialise the event to a `serde_json::Value`, then look
//! the field up there), and a key-only filter.
//!
//! `cargo bench -p lifecycle-core --bench filter -- --warm-up-time 1 --measurement-time 5`

#![allow(
    missing_docs,
    reason = "criterion_group! writes an undocumented pub fn"
)]

use std::borrow::Cow;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lifecycle_core::{AnyEvent, Filter, compare_versions, parse};
use serde_json::Value;

/// One of the project's example events, as the parser reads it.
fn example(name: &str) -> AnyEvent {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/examples/lifecycle/v1")
        .join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&bytes).unwrap().into_event()
}

/// The evaluation of one `.path<op>value` element before issue 11, for a bare value and the
/// operators this bench uses: serialise the whole event, then look the field up.
fn field_to_value_baseline(event: &AnyEvent, path: &[&str], op: &str, operand: &str) -> bool {
    let json = serde_json::to_value(event).expect("events serialise to JSON");
    let mut value = &json;
    for part in path {
        match value.get(part) {
            Some(inner) => value = inner,
            None => return op == "!=",
        }
    }
    let text = match value {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Number(n) => {
            if let (Some(a), Ok(b)) = (n.as_f64(), operand.parse::<f64>()) {
                return holds(op, a.partial_cmp(&b));
            }
            Cow::Owned(n.to_string())
        }
        Value::Null => return op == "!=",
        other => Cow::Owned(other.to_string()),
    };
    holds(op, Some(compare_versions(&text, operand)))
}

fn holds(op: &str, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (op, ordering) {
        ("=", Some(Equal)) | (">=", Some(Equal | Greater)) => true,
        ("!=", o) => o != Some(Equal),
        _ => false,
    }
}

fn benches(c: &mut Criterion) {
    let alive = example("alive.json");
    let site = example("alive.unknown-member.json");
    let version = Filter::parse("alive,.version>=0.29.0").unwrap();
    let extra = Filter::parse(".site=ams1").unwrap();
    let keys = Filter::parse("identity=node*.example.net,component=server").unwrap();
    // Each filter passes its event, and the baseline agrees.
    assert!(version.matches(&alive) && extra.matches(&site) && keys.matches(&alive));
    assert!(field_to_value_baseline(
        &alive,
        &["version"],
        ">=",
        "0.29.0"
    ));
    assert!(field_to_value_baseline(&site, &["site"], "=", "ams1"));

    let mut group = c.benchmark_group("filter");
    group.throughput(Throughput::Elements(1));
    group.bench_function("field", |b| b.iter(|| version.matches(black_box(&alive))));
    group.bench_function("field_to_value_baseline", |b| {
        b.iter(|| {
            let event = black_box(&alive);
            event.type_name() == "alive"
                && field_to_value_baseline(event, &["version"], ">=", "0.29.0")
        })
    });
    group.bench_function("extra_field", |b| {
        b.iter(|| extra.matches(black_box(&site)))
    });
    group.bench_function("extra_field_to_value_baseline", |b| {
        b.iter(|| field_to_value_baseline(black_box(&site), &["site"], "=", "ams1"))
    });
    group.bench_function("key_glob", |b| b.iter(|| keys.matches(black_box(&alive))));
    group.finish();
}

criterion_group!(filter, benches);
criterion_main!(filter);
