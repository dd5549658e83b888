//! A durable consumer's name passes the one subject-token rule, plus no slashes (nats-server
//! makes it a directory name); the error names the value, escaped.

mod common;

use std::time::Duration;

use lifecycle_nats::Interest;
use lifecycle_testsupport::started_with_events;

#[tokio::test(flavor = "multi_thread")]
async fn durable_names_that_are_not_subject_tokens_are_refused() {
    let (_server, connection) = started_with_events().await;
    let interest = Interest::default();
    let cases = [
        (
            "",
            "invalid durable consumer name '': a NATS subject token cannot be empty",
        ),
        (
            "for.ward",
            "invalid durable consumer name 'for.ward': a NATS subject token cannot hold '.'",
        ),
        (
            "for ward",
            "invalid durable consumer name 'for ward': a NATS subject token cannot hold white space (' ')",
        ),
        (
            "for\tward",
            r"invalid durable consumer name 'for\tward': a NATS subject token cannot hold white space ('\t')",
        ),
        (
            "for\u{1b}[2J",
            r"invalid durable consumer name 'for\x1b[2J': a NATS subject token cannot hold a control character ('\x1b')",
        ),
        (
            "for/ward",
            r"invalid durable consumer name 'for/ward': it cannot hold '/' or '\'",
        ),
        (
            "for\\ward",
            r"invalid durable consumer name 'for\ward': it cannot hold '/' or '\'",
        ),
    ];
    for (name, message) in cases {
        let err = connection
            .durable(name, &interest, Duration::from_secs(1))
            .await
            .err()
            .unwrap_or_else(|| panic!("{name:?} was accepted"));
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            message,
            "{name:?}"
        );
    }
    let durable = connection
        .durable("forward-1_x", &interest, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(durable.name(), "forward-1_x");
}
