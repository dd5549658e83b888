//! Dead letters are kept when a stream stores their subject, and said to be kept nowhere when
//! none does: never assumed safe.

use std::time::Duration;

use lifecycle_core::{Event, EventType};
use lifecycle_nats::{
    DEAD_LETTER_STREAM, DeadLetter, Kept, Received, StreamSpec, dead_letter_headers,
};
use lifecycle_testsupport::started;

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_is_kept_only_where_a_stream_stores_it() {
    let (_server, connection) = started().await;
    let event = Event::builder(EventType::Alive)
        .identity("n1.example.net")
        .component("server")
        .version("0.29.4")
        .build()
        .unwrap();
    let received = Received::of(&event.into()).unwrap();
    let letter = DeadLetter {
        reason: "exited with status 65".into(),
        attempts: 1,
        consumer: Some("provision".into()),
        handler: "rule provision (exec)".into(),
    };
    let letters = connection.dead_letters("lifecycle.dead.provision").unwrap();

    assert_eq!(
        letters.publish(&received, &letter).await.unwrap(),
        Kept::Nowhere,
        "no stream stores lifecycle.dead.> yet"
    );

    connection
        .ensure_stream(&StreamSpec::dead_letters(
            Duration::from_secs(3600),
            Some(1),
        ))
        .await
        .unwrap();
    assert_eq!(
        letters.publish(&received, &letter).await.unwrap(),
        Kept::InStream
    );
    let state = connection
        .stream_state(DEAD_LETTER_STREAM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.messages, 1, "the one published while it existed");

    let stored = async_nats::jetstream::new(connection.client().clone())
        .get_stream(DEAD_LETTER_STREAM)
        .await
        .unwrap()
        .get_raw_message(state.last_sequence)
        .await
        .unwrap();
    assert_eq!(stored.payload, received.payload);
    let headers = stored.headers;
    assert_eq!(
        headers
            .get(dead_letter_headers::REASON)
            .map(|v| v.as_str().to_owned()),
        Some("exited with status 65".to_owned())
    );
}
