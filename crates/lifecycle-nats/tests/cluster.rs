//! On a three-server cluster: `ensure_stream` raises an R1 stream to R3, and the stream
//! survives the SIGKILL of its leader with everything it held.

use std::time::Duration;

use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{
    ConnectOptions, Connection, EVENTS_STREAM, Settings, StreamChange, StreamSpec,
};
use lifecycle_testsupport::NatsCluster;

async fn connect(cluster: &NatsCluster) -> Connection {
    let options = ConnectOptions {
        servers: cluster.urls(),
        ..ConnectOptions::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).expect("settings");
    Connection::connect(&settings).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_r1_stream_is_raised_to_r3_and_outlives_its_leader() {
    let mut cluster = NatsCluster::start();
    let connection = connect(&cluster).await;
    let hour = Duration::from_secs(3600);
    assert_eq!(
        connection
            .ensure_stream(&StreamSpec::events(hour, Some(1)))
            .await
            .unwrap(),
        StreamChange::Created
    );
    let publisher = connection.publisher(Format::Choria);
    for n in 0..20 {
        let event = Event::builder(EventType::Alive)
            .identity(format!("n{n}.example.net"))
            .component("server")
            .version("0.29.4")
            .build()
            .unwrap();
        publisher.publish(&event).await.unwrap();
    }
    publisher.flush().await.unwrap();

    assert_eq!(
        connection
            .ensure_stream(&StreamSpec::events(hour, Some(3)))
            .await
            .unwrap(),
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
    assert_eq!(
        connection
            .ensure_stream(&StreamSpec::events(hour, Some(3)))
            .await
            .unwrap(),
        StreamChange::Unchanged
    );

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
