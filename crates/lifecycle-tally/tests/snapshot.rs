//! Snapshots against a real nats-server: a tally started after one loads it and replays only
//! what the stream holds after it (the stream's older events are purged here, so the counts
//! can only come from the snapshot); one that cannot be trusted is ignored, with a full
//! replay instead.

mod common;

use std::time::Duration;

use common::{connect, within};
use lifecycle_core::{Event, EventType};
use lifecycle_nats::{Connection, EVENTS_STREAM};
use lifecycle_tally::{ComponentCount, SNAPSHOT_BUCKET, Tally, TallyOptions};
use lifecycle_testsupport::{NatsServer, alive, event, publish, started_with_events};
use tokio::io::AsyncReadExt;

/// Waits until the stream has stored `n` messages in all.
async fn stored(connection: &Connection, n: u64) {
    within(60, "the stream to store the events", async {
        while connection
            .stream_state(EVENTS_STREAM)
            .await
            .unwrap()
            .map_or(0, |s| s.last_sequence)
            < n
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The alive events of `n` servers, `node0.example.net` ..., at `version`.
fn nodes(n: usize, version: &str) -> Vec<Event> {
    (0..n)
        .map(|i| alive(&format!("node{i}.example.net"), version))
        .collect()
}

/// Publishes the alive events of `n` servers at 0.29.4 into an empty stream and waits until
/// it holds them.
async fn stored_nodes(connection: &Connection, n: usize) {
    publish(connection, &nodes(n, "0.29.4")).await;
    stored(connection, n as u64).await;
}

fn options(snapshot: &str) -> TallyOptions {
    TallyOptions {
        snapshot: Some(snapshot.to_owned()),
        ..Default::default()
    }
}

/// A tally ingesting from `server` in the background, until the test ends.
async fn ingesting(server: &NatsServer, options: TallyOptions) -> Tally {
    let tally = Tally::new(options);
    let connection = connect(server).await;
    let background = tally.clone();
    tokio::spawn(async move {
        background
            .ingest(&connection, std::future::pending())
            .await
            .unwrap();
    });
    tally
}

async fn counts_reach(tally: &Tally, want: &[ComponentCount]) {
    within(60, "the counts", async {
        while !(tally.is_ready() && tally.component_counts() == want) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn count(component: &str, versions: &[(&str, u64)]) -> ComponentCount {
    ComponentCount {
        component: component.into(),
        nodes: versions.iter().map(|(_, n)| n).sum(),
        versions: versions.iter().map(|(v, n)| ((*v).into(), *n)).collect(),
    }
}

/// Purges the stream of everything before `sequence`.
async fn purge_before(connection: &Connection, sequence: u64) {
    let js = async_nats::jetstream::new(connection.client().clone());
    let stream = js.get_stream(EVENTS_STREAM).await.unwrap();
    stream.purge().sequence(sequence).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tally_started_after_a_snapshot_counts_from_it_and_what_came_after() {
    let (server, connection) = started_with_events().await;
    stored_nodes(&connection, 1_000).await;
    let before = ingesting(&server, options("t")).await;
    counts_reach(&before, &[count("server", &[("0.29.4", 1_000)])]).await;
    let written = before.save_snapshot(&connection).await.unwrap().unwrap();
    assert_eq!((written.sequence, written.nodes), (1_000, 1_000));

    // Then 10 upgrades and a new node; and the stream forgets what the snapshot covers.
    let mut after: Vec<Event> = (0..10)
        .map(|i| alive(&format!("node{i}.example.net"), "0.30.0"))
        .collect();
    after.push(event(EventType::Alive, "new.example.net", "broker", "1.0"));
    publish(&connection, &after).await;
    stored(&connection, 1_011).await;
    purge_before(&connection, 1_001).await;

    let started = ingesting(&server, options("t")).await;
    counts_reach(
        &started,
        &[
            count("server", &[("0.29.4", 990), ("0.30.0", 10)]),
            count("broker", &[("1.0", 1)]),
        ],
    )
    .await;
    assert_eq!(started.fleet().len(), 1_001);
}

/// The bytes of object `name` in the snapshot bucket.
async fn object(connection: &Connection, name: &str) -> Vec<u8> {
    let js = async_nats::jetstream::new(connection.client().clone());
    let store = js.get_object_store(SNAPSHOT_BUCKET).await.unwrap();
    let mut bytes = Vec::new();
    store
        .get(name)
        .await
        .unwrap()
        .read_to_end(&mut bytes)
        .await
        .unwrap();
    bytes
}

async fn put_object(connection: &Connection, name: &str, bytes: &[u8]) {
    let js = async_nats::jetstream::new(connection.client().clone());
    let store = js.get_object_store(SNAPSHOT_BUCKET).await.unwrap();
    store.put(name, &mut &bytes[..]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_that_cannot_be_trusted_is_ignored_for_a_full_replay() {
    let (server, connection) = started_with_events().await;
    stored_nodes(&connection, 100).await;
    let want = [count("server", &[("0.29.4", 100)])];
    // A snapshot of the fleet and a ghost the stream never saw: a tally that trusts it
    // counts the ghost, one that ignores it does not.
    let tally = ingesting(&server, options("good")).await;
    counts_reach(&tally, &want).await;
    tally.observe(&lifecycle_core::AnyEvent::Lifecycle(alive(
        "ghost", "9.9.9",
    )));
    tally.save_snapshot(&connection).await.unwrap().unwrap();
    let good = object(&connection, "good").await;
    let trusted = ingesting(&server, options("good")).await;
    counts_reach(
        &trusted,
        &[count("server", &[("0.29.4", 100), ("9.9.9", 1)])],
    )
    .await;

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    let mut other_format = good.clone();
    other_format[8] = 7;
    let cases: [(&str, Vec<u8>, TallyOptions); 5] = [
        ("flipped", flipped, options("flipped")),
        ("cut", good[..good.len() - 10].to_vec(), options("cut")),
        ("format", other_format, options("format")),
        (
            "garbage",
            b"not a snapshot at all".to_vec(),
            options("garbage"),
        ),
        (
            "small",
            good.clone(),
            TallyOptions {
                snapshot_max_size: 16,
                ..options("small")
            },
        ),
    ];
    for (name, bytes, options) in cases {
        put_object(&connection, name, &bytes).await;
        let tally = ingesting(&server, options).await;
        counts_reach(&tally, &want).await;
        assert_eq!(tally.fleet().len(), 100, "{name}");
    }
    // A tally counting other components does not take this one's snapshot.
    put_object(&connection, "filtered", &good).await;
    let tally = ingesting(
        &server,
        TallyOptions {
            components: ["server".to_owned()].into(),
            ..options("filtered")
        },
    )
    .await;
    counts_reach(&tally, &want).await;
}
