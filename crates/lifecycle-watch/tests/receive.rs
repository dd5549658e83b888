//! The receiving loop and gates against a real nats-server: a replay says when it caught up
//! whatever the filter makes of the last stored message, deadlines and stop signals end it,
//! and a state the fleet only passed through during the replay does not meet a gate.

mod common;

use std::time::Duration;

use common::steps;
use lifecycle_core::duration::Since;
use lifecycle_core::{Event, Filter};
use lifecycle_nats::{Connection, Received};
use lifecycle_testsupport::{alive, started_with_events};
use lifecycle_watch::{Events, Gate, Stop, Target, Watch, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

/// Publishes `messages` (subject, payload) and waits until the stream holds `stored` in all.
async fn store(connection: &Connection, messages: Vec<(String, Vec<u8>)>, stored: u64) {
    lifecycle_testsupport::publish_raw(connection, messages).await;
    lifecycle_testsupport::stored(connection, stored).await;
}

fn message(event: &Event) -> (String, Vec<u8>) {
    (event.subject().unwrap(), event.to_json())
}

/// The identity, as the steps show an event here.
fn identity(event: &lifecycle_core::AnyEvent) -> String {
    event.identity().to_owned()
}

/// Every event from the stream's start, then live ones, until `timeout`.
async fn replay_all(connection: &Connection, timeout: Duration) -> Events {
    Watch::new(Filter::default())
        .since(replay_from_start())
        .timeout(timeout)
        .open(connection)
        .await
        .unwrap()
}

fn replay_from_start() -> Since {
    Since::Ago(Duration::from_secs(600))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_catches_up_whatever_the_filter_makes_of_the_last_message() {
    let (_server, connection) = started_with_events().await;
    store(
        &connection,
        vec![message(&alive("n1", "1")), message(&alive("n2", "1"))],
        2,
    )
    .await;
    // n2, the last stored, is not for this filter.
    let mut events = Watch::new(Filter::parse("identity=n1").unwrap())
        .since(replay_from_start())
        .open(&connection)
        .await
        .unwrap();
    assert!(!events.is_caught_up());
    assert_eq!(steps(&mut events, 2, identity).await, ["n1", "caught up"]);
    assert!(events.is_caught_up());

    // The last stored is no event at all.
    store(
        &connection,
        vec![(
            "choria.lifecycle.event.alive.server".into(),
            b"not an event".to_vec(),
        )],
        3,
    )
    .await;
    let mut events = replay_all(&connection, Duration::from_millis(500)).await;
    assert_eq!(
        steps(&mut events, 4, identity).await,
        ["n1", "n2", "caught up", "Timeout"]
    );

    // Live, or nothing to replay: caught up at once.
    let mut events = Watch::new(Filter::default())
        .open(&connection)
        .await
        .unwrap();
    assert!(events.is_caught_up());
    assert_eq!(steps(&mut events, 1, identity).await, ["caught up"]);
    let mut events = Watch::new(Filter::default())
        .since(Since::Ago(Duration::ZERO))
        .open(&connection)
        .await
        .unwrap();
    assert_eq!(steps(&mut events, 1, identity).await, ["caught up"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stop_signal_ends_the_events() {
    let (_server, connection) = started_with_events().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut events = Watch::new(Filter::default())
        .stop(async {
            let _ = stopped.await;
        })
        .open(&connection)
        .await
        .unwrap();
    assert_eq!(steps(&mut events, 1, identity).await, ["caught up"]);
    stop.send(()).unwrap();
    let next: Result<Received, Stop> = events.next().await;
    assert_eq!(next.unwrap_err(), Stop::Interrupted);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_passed_through_during_the_replay_does_not_meet_a_gate() {
    let (_server, connection) = started_with_events().await;
    store(
        &connection,
        vec![
            message(&alive("n1", "0.30.0")),
            message(&alive("n1", "0.29.4")),
        ],
        2,
    )
    .await;
    let until = Filter::parse(".version>=0.30.0").unwrap();
    let mut gate = Gate::new(until.clone(), Target::Count(1));
    let mut events = replay_all(&connection, Duration::from_millis(1500)).await;
    let result = wait_for(&mut events, &mut gate, |_| {}).await;
    assert_eq!(result, Err(Stop::Timeout));
    assert_eq!(gate.to_string(), "0/1 nodes pass");
    assert_eq!(gate.failing()[0].version, "0.29.4");

    // Once it is the present state, it is met at once.
    store(&connection, vec![message(&alive("n1", "0.30.1"))], 3).await;
    let mut gate = Gate::new(until, Target::All);
    let mut events = replay_all(&connection, LIMIT).await;
    let mut shown = Vec::new();
    let result = wait_for(&mut events, &mut gate, |gate| shown.push(gate.to_string())).await;
    assert_eq!(result, Ok(()));
    assert_eq!(shown.last().map(String::as_str), Some("1/1 nodes pass"));
}
