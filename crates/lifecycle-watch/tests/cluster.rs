//! On a three-server cluster: a replay asked for while `CHORIA_EVENTS` elects a leader
//! starts once it has one, within the timeout; with no quorum, the timeout ends it saying
//! what it waited for.

use std::time::Duration;

use lifecycle_core::Filter;
use lifecycle_core::duration::Since;
use lifecycle_nats::EVENTS_STREAM;
use lifecycle_testsupport::{fleet, publish, started_cluster_with_events, within};
use lifecycle_watch::{ErrorKind, Stop, Watch};

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_rides_out_the_election_of_its_stream_and_times_out_without_quorum() {
    let (mut cluster, connection) = started_cluster_with_events().await;
    publish(&connection, &fleet(5, 5)).await;
    cluster.wait_for_stream_replicas(EVENTS_STREAM, Duration::from_secs(30));

    // The leader killed: the replay is asked for while the others elect one.
    let leader = cluster.wait_for_stream_leader(EVENTS_STREAM, Duration::from_secs(10));
    cluster.kill(leader);
    let watch = Watch::new(Filter::default())
        .since(Since::Ago(Duration::from_secs(3600)))
        .timeout(Duration::from_secs(60));
    let mut events = within(
        Duration::from_secs(90),
        "the replay",
        watch.open(&connection),
    )
    .await
    .expect("the replay starts once the stream has a leader");
    for _ in 0..5 {
        within(Duration::from_secs(30), "a replayed event", events.next())
            .await
            .unwrap();
    }
    assert!(events.is_caught_up());

    // Two of three gone: no leader can be elected, and the timeout says what it waited for.
    let other = (0..3).find(|&i| i != leader).unwrap();
    cluster.kill(other);
    let watch = Watch::new(Filter::default())
        .since(Since::Ago(Duration::from_secs(3600)))
        .timeout(Duration::from_secs(3));
    let error = within(
        Duration::from_secs(60),
        "the timeout",
        watch.open(&connection),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Stopped {
                stop: Stop::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the timeout passed while waiting for the replay of CHORIA_EVENTS"
    );
}
