//! Shared by the tally's integration tests.

use lifecycle_nats::{ConnectOptions, Connection, Settings};
use lifecycle_testsupport::NatsServer;

/// A connection to `server` alone: no environment, no Choria configuration.
pub(crate) async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    Connection::connect(&Settings::resolve_with(&options, None, &[]).unwrap())
        .await
        .unwrap()
}
