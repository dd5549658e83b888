//! A stream's replica count is made what is asked or refused naming both counts, never left
//! as it was while saying "as asked".

use std::time::Duration;

use lifecycle_nats::{EVENTS_STREAM, ErrorKind, StreamChange, StreamSpec};
use lifecycle_testsupport::started;

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_count_a_server_cannot_give_is_refused_naming_both_counts() {
    let (_server, connection) = started().await;
    let hour = Duration::from_secs(3600);
    let one = StreamSpec::events(hour, Some(1));
    assert_eq!(
        connection.ensure_stream(&one).await.unwrap(),
        StreamChange::Created
    );
    assert_eq!(
        connection.ensure_stream(&one).await.unwrap(),
        StreamChange::Unchanged
    );

    // One server holds one replica: three cannot be, and saying "as asked" would be a lie.
    let three = StreamSpec::events(hour, Some(3));
    let error = connection.ensure_stream(&three).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::Replicas {
            stream: EVENTS_STREAM.to_owned(),
            have: 1,
            asked: 3,
        }
    );
    assert_eq!(
        error.to_string(),
        "cannot change stream CHORIA_EVENTS from 1 to 3 replicas"
    );
    let state = connection
        .stream_state(EVENTS_STREAM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.replicas, state.retention), (1, hour));

    // What can change does, and says what it was.
    let day = StreamSpec::events(Duration::from_secs(86_400), Some(1));
    assert_eq!(
        connection.ensure_stream(&day).await.unwrap(),
        StreamChange::Updated {
            retention: Some(hour),
            replicas: None,
        }
    );
}
