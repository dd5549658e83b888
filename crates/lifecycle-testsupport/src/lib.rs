//! Test support: a real `nats-server` for integration tests, and certificates for TLS tests.
//!
//! [`NatsServer::start`] runs `nats-server` with JetStream on a random loopback port in a
//! temporary directory, and kills it on drop. It never skips: a missing `nats-server` fails
//! the test with an install hint.
//!
//! [`NatsCluster`] runs three clustered servers with JetStream, each killable and restartable,
//! and says which leads JetStream's meta group, a stream or a consumer.
//!
//! [`CloudEventsReceiver`] runs a CloudEvents HTTP receiver built on the Python SDK.
//!
//! [`complete_lines`] reads what another process appends to a file, a whole line at a time.
//!
//! [`reference_dir`] finds Choria's reference events for the interoperability suite.

mod appended;
mod certs;
mod cluster;
mod receiver;
mod reference;
mod server;

pub use appended::{complete_lines, complete_text};
pub use certs::TestCerts;
pub use cluster::{CLUSTER_SIZE, NatsCluster};
pub use receiver::CloudEventsReceiver;
pub use reference::{REFERENCE_ENV, go_choria_dir, reference_dir};
pub use server::{NatsServer, ServerOptions};
