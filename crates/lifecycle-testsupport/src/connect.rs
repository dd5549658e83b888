//! Connections to a test server: from its URL alone (no environment, no Choria
//! configuration), with `CHORIA_EVENTS` created when a test needs the stream, and a blocking
//! form for the tests that drive the `lifecycle` binary from plain `#[test]` functions.

use std::future::Future;

use lifecycle_core::Event;
use lifecycle_nats::{ConnectOptions, Connection, DEFAULT_RETENTION, Settings, StreamSpec};

use crate::cluster::{CLUSTER_SIZE, NatsCluster};
use crate::jetstream::{publish, publish_stored};
use crate::server::NatsServer;

/// A connection to `server` alone.
pub async fn connect(server: &NatsServer) -> Connection {
    connect_with(server, ConnectOptions::default()).await
}

/// A connection to `server` with `options` (its `servers` replaced by `server`'s URL).
pub async fn connect_with(server: &NatsServer, mut options: ConnectOptions) -> Connection {
    options.servers = vec![server.url()];
    let settings = Settings::resolve_with(&options, None, &[]).expect("settings");
    Connection::connect(&settings).await.expect("connect")
}

/// A connection to every server of `cluster`, as a client given them all as seeds.
pub async fn connect_to_cluster(cluster: &NatsCluster) -> Connection {
    let options = ConnectOptions {
        servers: cluster.urls(),
        ..ConnectOptions::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).expect("settings");
    Connection::connect(&settings).await.expect("connect")
}

/// A cluster started and a connection to it on which `CHORIA_EVENTS` exists on every server
/// (R3), as on a Choria cluster.
pub async fn started_cluster_with_events() -> (NatsCluster, Connection) {
    let cluster = NatsCluster::start();
    let connection = connect_to_cluster(&cluster).await;
    connection
        .ensure_stream(&StreamSpec::events(DEFAULT_RETENTION, Some(CLUSTER_SIZE)))
        .await
        .expect("create CHORIA_EVENTS on every server");
    (cluster, connection)
}

/// A connection to `server` on which `CHORIA_EVENTS` exists (made with the default
/// retention if it did not), as on a Choria broker.
pub async fn connect_with_events(server: &NatsServer) -> Connection {
    let connection = connect(server).await;
    connection
        .ensure_events_stream(DEFAULT_RETENTION)
        .await
        .expect("create CHORIA_EVENTS");
    connection
}

/// A server started with JetStream and a connection to it.
pub async fn started() -> (NatsServer, Connection) {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    (server, connection)
}

/// A server started with JetStream and a connection to it on which `CHORIA_EVENTS` exists.
pub async fn started_with_events() -> (NatsServer, Connection) {
    let server = NatsServer::start();
    let connection = connect_with_events(&server).await;
    (server, connection)
}

/// A current-thread runtime and a connection made on it: for tests that are not async
/// themselves. The connection is served only while the runtime runs (in `block_on`).
#[derive(Debug)]
pub struct BlockingConnection {
    /// The runtime the connection lives on.
    pub runtime: tokio::runtime::Runtime,
    /// The connection.
    pub connection: Connection,
}

impl BlockingConnection {
    /// Connects to `server` (see [`connect`]).
    pub fn connect(server: &NatsServer) -> BlockingConnection {
        BlockingConnection::on_runtime(|| connect(server))
    }

    /// Connects to `server` and makes sure `CHORIA_EVENTS` exists (see
    /// [`connect_with_events`]).
    pub fn connect_with_events(server: &NatsServer) -> BlockingConnection {
        BlockingConnection::on_runtime(|| connect_with_events(server))
    }

    fn on_runtime<F: Future<Output = Connection>>(
        connect: impl FnOnce() -> F,
    ) -> BlockingConnection {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let connection = runtime.block_on(connect());
        BlockingConnection {
            runtime,
            connection,
        }
    }

    /// Runs `future` on the connection's runtime.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// Publishes `events` (see [`publish`]).
    pub fn publish(&self, events: &[Event]) {
        self.block_on(publish(&self.connection, events));
    }

    /// Publishes `events` and waits until the stream holds `total` messages in all.
    pub fn publish_stored(&self, events: &[Event], total: u64) {
        self.block_on(publish_stored(&self.connection, events, total));
    }
}
