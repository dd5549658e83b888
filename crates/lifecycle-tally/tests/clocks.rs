//! Nodes whose clocks are wrong, through a real nats-server: liveness is judged by when the
//! stream stored their events, never by their own clocks, which are only shown.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use common::{connect, within};
use lifecycle_core::{Event, EventType, Format, NodeState};
use lifecycle_tally::{NodeQuery, StateSelection, Tally, TallyOptions};
use lifecycle_testsupport::started_with_events;

const HOUR: i64 = 3_600;

#[tokio::test(flavor = "multi_thread")]
async fn clocks_ahead_behind_and_absurd_are_neither_lost_at_once_nor_kept_forever() {
    let now = lifecycle_core::clock::now();
    let stamps = [
        ("ahead", now + 5 * HOUR),
        ("behind", now - 5 * HOUR),
        ("zero", 0),
        ("negative", -86_400),
        ("far-future", 32_503_680_000), // the year 3000
    ];
    let (server, connection) = started_with_events().await;
    let clock = Arc::new(AtomicI64::new(now));
    let reading = clock.clone();
    let tally = Tally::new(TallyOptions {
        max_age: Duration::from_secs(HOUR as u64),
        clock: Arc::new(move || reading.load(Ordering::Relaxed)),
        ..Default::default()
    });
    let ingesting = tally.clone();
    let ingest_connection = connect(&server).await;
    tokio::spawn(async move {
        ingesting
            .ingest(&ingest_connection, std::future::pending())
            .await
            .unwrap();
    });
    within(60, "readiness", async {
        while !tally.is_ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let events: Vec<Event> = stamps
        .iter()
        .map(|(identity, at)| {
            Event::builder(EventType::Alive)
                .identity(*identity)
                .component("server")
                .version("0.29.4")
                .timestamp(*at)
                .build()
                .unwrap()
        })
        .collect();
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();
    within(60, "the events counted", async {
        while tally.fleet().len() < stamps.len() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Shown as they said (a missing or pre-1970 time as the receipt), whatever the clocks.
    let all = NodeQuery {
        state: StateSelection::All,
        limit: 100,
        ..Default::default()
    };
    let shown: Vec<(String, i64, NodeState)> = tally
        .nodes_page(&all)
        .nodes
        .into_iter()
        .map(|n| (n.identity, n.last_seen, n.state))
        .collect();
    for (identity, at) in stamps {
        let (_, last_seen, state) = shown
            .iter()
            .find(|(i, _, _)| i == identity)
            .unwrap_or_else(|| panic!("{identity} in {shown:?}"));
        assert_eq!(*state, NodeState::Up, "{identity}");
        if at > 0 {
            assert_eq!(*last_seen, at, "{identity}");
        } else {
            assert!(
                (now - 5..=now + 60).contains(last_seen),
                "{identity}: {last_seen}"
            );
        }
    }

    // Not lost at once, though one said it was 5 hours ago and another 1970.
    assert_eq!(tally.expire(), 0);
    let counts = |tally: &Tally| {
        let fleet = tally.fleet();
        (fleet.len(), fleet.lost_len())
    };
    assert_eq!(counts(&tally), (5, 0));
    // Nor kept forever, though two say they are in the future: an hour after they were
    // received (give or take the seconds this test took), all are lost.
    clock.store(now + HOUR + 120, Ordering::Relaxed);
    assert_eq!(tally.expire(), 5);
    assert_eq!(counts(&tally), (0, 5));
}
