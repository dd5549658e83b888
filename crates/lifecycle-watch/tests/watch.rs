//! `Watch` against a real nats-server: a replay, the caught-up signal, then live events; a
//! deadline and a stop signal each end it, whatever else is going on.

mod common;

use std::time::Duration;

use common::steps;
use lifecycle_core::duration::Since;
use lifecycle_core::{Event, EventType, Filter, Format};
use lifecycle_testsupport::{VERSION, publish_stored as publish, shutdown, started_with_events};
use lifecycle_watch::{ErrorKind, Step, Stop, Watch};
use tokio::time::Instant;

/// How long anything may take: generous, for a loaded machine.
const WITHIN: Duration = Duration::from_secs(60);

/// `identity`'s server's event of `event_type` (at 0.29.4, but for a shutdown).
fn event(event_type: EventType, identity: &str) -> Event {
    match event_type {
        EventType::Shutdown => shutdown(identity),
        _ => lifecycle_testsupport::event(event_type, identity, "server", VERSION),
    }
}

/// `type identity`, as the steps show an event here.
fn type_and_identity(event: &lifecycle_core::AnyEvent) -> String {
    format!("{} {}", event.type_name(), event.identity())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_then_the_caught_up_signal_then_live_events() {
    let (_server, connection) = started_with_events().await;
    let stored = [
        event(EventType::Startup, "n1"),
        event(EventType::Alive, "n2"),
        event(EventType::Shutdown, "n1"),
        event(EventType::Alive, "n3"),
        event(EventType::Alive, "n1"),
    ];
    publish(&connection, &stored, 5).await;
    // Not the shutdown: the filter passes startup and alive only.
    let mut events = Watch::new(Filter::parse("startup,alive").unwrap())
        .since(Since::Ago(Duration::from_secs(600)))
        .timeout(WITHIN)
        .open(&connection)
        .await
        .unwrap();
    assert!(!events.is_caught_up());
    assert_eq!(
        steps(&mut events, 5, type_and_identity).await,
        [
            "startup n1",
            "alive n2",
            "alive n3",
            "alive n1",
            "caught up"
        ]
    );
    assert!(events.is_caught_up());
    // From here on, the present: in the order published, and the signal never again.
    publish(
        &connection,
        &[
            event(EventType::Shutdown, "n2"),
            event(EventType::Alive, "n4"),
            event(EventType::Startup, "n5"),
        ],
        8,
    )
    .await;
    assert_eq!(
        steps(&mut events, 2, type_and_identity).await,
        ["alive n4", "startup n5"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_starting_at_a_time_to_come_is_refused() {
    let (_server, connection) = started_with_events().await;
    let future = std::time::SystemTime::now() + Duration::from_secs(3600);
    let error = Watch::new(Filter::default())
        .since(Since::Time(future))
        .open(&connection)
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FutureStart { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .ends_with(" is a time to come: there is nothing to replay yet"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_ends_it_even_while_events_keep_coming() {
    let (_server, connection) = started_with_events().await;
    let started = Instant::now();
    let deadline = started + Duration::from_millis(1500);
    let mut events = Watch::new(Filter::default())
        .deadline(deadline)
        .open(&connection)
        .await
        .unwrap();
    // A node that says it is alive every 50 ms, past the deadline.
    let publisher = {
        let connection = connection.clone();
        tokio::spawn(async move {
            let publisher = connection.publisher(Format::Choria);
            loop {
                publisher
                    .publish_all(&[event(EventType::Alive, "chatty")])
                    .await
                    .unwrap();
                publisher.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut received = 0;
    let stop = tokio::time::timeout(WITHIN, async {
        loop {
            match events.step().await {
                Ok(Step::Event(_)) => received += 1,
                Ok(Step::CaughtUp) => {}
                Err(stop) => return stop,
            }
        }
    })
    .await
    .expect("the deadline ends it");
    publisher.abort();
    assert_eq!(stop, Stop::Timeout);
    assert!(Instant::now() >= deadline, "not before the deadline");
    assert!(received > 0, "events came meanwhile");
    // It stays ended: past what was already buffered (handed out while the deadline is
    // also ready, whichever the select picks), only the timeout.
    let after = tokio::time::timeout(WITHIN, async {
        loop {
            if let Err(stop) = events.next().await {
                return stop;
            }
        }
    })
    .await
    .expect("ends again");
    assert_eq!(after, Stop::Timeout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_signal_ends_a_watch_waiting_for_events() {
    let (_server, connection) = started_with_events().await;
    publish(&connection, &[event(EventType::Alive, "n1")], 1).await;
    let signal = std::sync::Arc::new(tokio::sync::Notify::new());
    let waiting = signal.clone();
    let mut events = Watch::new(Filter::parse("alive").unwrap())
        .since(Since::Ago(Duration::from_secs(600)))
        .timeout(WITHIN)
        .stop(async move { waiting.notified().await })
        .open(&connection)
        .await
        .unwrap();
    assert_eq!(
        steps(&mut events, 2, type_and_identity).await,
        ["alive n1", "caught up"]
    );
    // The signal comes from elsewhere while the watch waits for the next event.
    let signaller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        signal.notify_one();
    });
    // Interrupted: the signal ended it, not its deadline.
    let next = tokio::time::timeout(WITHIN, events.next())
        .await
        .expect("the signal ends it");
    assert_eq!(next.unwrap_err(), Stop::Interrupted);
    signaller.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_on_a_replay_holds_once_caught_up_and_a_count_not_reached_times_out() {
    use lifecycle_watch::{Gate, Target, Wait, Waited};
    let (_server, connection) = started_with_events().await;
    let fleet = [
        event(EventType::Alive, "n1"),
        event(EventType::Alive, "n2"),
        event(EventType::Alive, "n3"),
    ];
    publish(&connection, &fleet, 3).await;

    // Every server the replay shows runs 0.29.4.
    let mut gate = Gate::new(Filter::parse(".version>=0.29.4").unwrap(), Target::All);
    let mut shown = 0;
    let waited = Wait::new(Filter::parse("component=server").unwrap())
        .since(Since::parse("1h").unwrap())
        .deadline(Instant::now() + WITHIN)
        .run(&connection, &mut gate, |_| shown += 1)
        .await
        .unwrap();
    assert_eq!(
        waited,
        Waited {
            stop: None,
            caught_up: true
        }
    );
    assert_eq!((gate.known(), gate.passing()), (3, 3));
    assert!(shown >= 1, "shown before the first event");

    // Four events live, and none comes: the deadline ends it.
    let mut progress = lifecycle_watch::Progress::events(4);
    let waited = Wait::new(Filter::parse("alive").unwrap())
        .deadline(Instant::now() + Duration::from_millis(300))
        .run(&connection, &mut progress, |_| {})
        .await
        .unwrap();
    assert_eq!(waited.stop, Some(Stop::Timeout));
    assert_eq!(progress.count(), 0);
}
