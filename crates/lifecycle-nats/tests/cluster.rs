//! On a three-server cluster: `ensure_stream` raises an R1 stream to R3, and the stream
//! survives the SIGKILL of its leader with everything it held.

use std::time::Duration;

use lifecycle_nats::{EVENTS_STREAM, StreamChange, StreamSpec};
use lifecycle_testsupport::{NatsCluster, connect_to_cluster, fleet, publish};

#[tokio::test(flavor = "multi_thread")]
async fn an_r1_stream_is_raised_to_r3_and_outlives_its_leader() {
    let mut cluster = NatsCluster::start();
    let connection = connect_to_cluster(&cluster).await;
    let hour = Duration::from_secs(3600);
    let ensure = |replicas| {
        let spec = StreamSpec::events(hour, Some(replicas));
        let connection = connection.clone();
        async move { connection.ensure_stream(&spec).await.unwrap() }
    };
    assert_eq!(ensure(1).await, StreamChange::Created);
    publish(&connection, &fleet(20, 20)).await;
    assert_eq!(
        ensure(3).await,
        StreamChange::Updated {
            retention: None,
            replicas: Some(1),
        }
    );
    let state = connection
        .stream_state(EVENTS_STREAM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.replicas, state.messages), (3, 20));
    assert_eq!(ensure(3).await, StreamChange::Unchanged);

    // Once every server holds a copy, the leader killed, another takes over with every
    // message.
    cluster.wait_for_stream_replicas(EVENTS_STREAM, Duration::from_secs(20));
    let leader = cluster.wait_for_stream_leader(EVENTS_STREAM, Duration::from_secs(10));
    cluster.kill(leader);
    let next = cluster.wait_for_stream_leader(EVENTS_STREAM, Duration::from_secs(20));
    assert_ne!(next, leader, "a surviving server leads");
    let state = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(Some(state)) = connection.stream_state(EVENTS_STREAM).await {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the stream answers again after its leader's death");
    assert_eq!((state.replicas, state.messages), (3, 20));
}
