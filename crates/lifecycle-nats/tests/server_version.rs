//! The version a real server announces is read, and a feature that needs a newer one fails
//! at once naming both versions.

use lifecycle_nats::{ErrorKind, JETSTREAM_MIN_VERSION, ServerVersion};
use lifecycle_testsupport::started;

#[tokio::test(flavor = "multi_thread")]
async fn a_server_older_than_a_feature_needs_is_named_with_both_versions() {
    let (_server, connection) = started().await;

    let announced = connection.client().server_info().version;
    let version = connection
        .server_version()
        .expect("nats-server announces its version");
    assert_eq!(ServerVersion::parse(&announced), Some(version));
    assert!(
        version >= JETSTREAM_MIN_VERSION,
        "the test server is {version}"
    );
    connection
        .require("JetStream", JETSTREAM_MIN_VERSION)
        .expect("new enough");

    let error = connection
        .require("--election", ServerVersion::new(99, 0, 0))
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ServerTooOld { .. }));
    assert_eq!(
        error.to_string(),
        format!("nats-server {announced} is too old for --election: needs 99.0 or later")
    );
}
