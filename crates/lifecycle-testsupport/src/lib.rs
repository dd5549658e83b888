//! Test support: the fixtures every integration test and bench of the workspace shares,
//! written once.
//!
//! - [`NatsServer::start`] runs `nats-server` with JetStream on a random loopback port in a
//!   temporary directory, and kills it on drop. It never skips: a missing `nats-server`
//!   fails the test with an install hint.
//! - [`connect`], [`connect_with_events`] (with `CHORIA_EVENTS`) and
//!   [`BlockingConnection`] connect to it; [`publish`], [`stored`], [`wait_for_consumer`]
//!   and [`wait_settled`] feed `CHORIA_EVENTS` and watch its durable consumers.
//! - [`alive`], [`startup`], [`upgraded`], [`shutdown`], [`fleet`] build events.
//! - [`Logged`] runs a process (a `lifecycle` service) with its log in a file; [`Scripts`]
//!   holds the programs a rule runs and what they write.
//! - [`NatsCluster`] runs three clustered servers with JetStream, each killable and
//!   restartable, and says which leads JetStream's meta group, a stream or a consumer.
//! - [`CloudEventsReceiver`] runs a CloudEvents HTTP receiver built on the Python SDK.
//! - [`within`], [`wait_until`] wait for a condition, never for a fixed time.
//! - [`complete_lines`] reads what another process appends to a file, a whole line at a time.
//! - [`arg`], [`flag`] and [`memory_mib`]: what a bench reads about itself.
//! - [`reference_dir`] finds Choria's reference events for the interoperability suite.

mod appended;
mod bench;
mod certs;
mod cluster;
mod connect;
mod events;
mod jetstream;
mod process;
mod receiver;
mod reference;
mod scripts;
mod server;
mod text;
mod wait;

pub use appended::{complete_lines, complete_text};
pub use bench::{arg, flag, memory_mib};
pub use certs::TestCerts;
pub use cluster::{CLUSTER_SIZE, NatsCluster};
pub use connect::{
    BlockingConnection, connect, connect_to_cluster, connect_with, connect_with_events, started,
    started_cluster_with_events, started_with_events,
};
pub use events::{
    VERSION, alive, by_identity, docker_check, event, fleet, one_of_each, received, shutdown,
    startup, upgraded,
};
pub use jetstream::{
    events_stream, publish, publish_raw, publish_stored, stored, wait_for_consumer, wait_settled,
};
pub use process::{Logged, logs};
pub use receiver::CloudEventsReceiver;
pub use reference::{REFERENCE_ENV, go_choria_dir, reference_dir};
pub use scripts::{RECORD, RECORD_ALL, Scripts};
pub use server::{NatsServer, ServerOptions};
pub use text::{encode_query, minify};
pub use wait::{LIMIT, wait_until, wait_until_blocking, within};
