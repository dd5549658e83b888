//! Choria lifecycle events over NATS: connect like a Choria client, publish, subscribe with
//! filters pushed into subjects, and replay the past from JetStream.
//!
//! - [`Settings`] resolves where to connect: `--server`, `NATS_URL`, then the Choria client
//!   configuration ([`ChoriaConfig`]: brokers, or a domain whose DNS SRV records name them,
//!   and mutual TLS from the file or puppet security provider), then `nats://127.0.0.1:4222`.
//!   A [`ServerUrl`] may hold a user and password or a token; they are used, never shown.
//! - [`Connection`] connects, reconnects forever and logs what happens with `tracing`.
//! - [`Publisher`] sends events to their subjects in either format and flushes.
//! - [`Subscription`] is a `Stream` of [`Received`] events for an [`Interest`]
//!   (`lifecycle-core`'s, re-exported); messages that are not events come out as
//!   [`ReceiveError`]s, never dropped in silence. [`CatchUp`] says when a replay is through.
//! - [`StreamSpec`] and [`Connection::ensure_stream`] set up `CHORIA_EVENTS` and
//!   `CHORIA_MACHINE` as Choria's broker does; [`Connection::stream_state`] reports on them,
//!   shown as a table row or JSON by [`StreamReport`].
//! - [`Durable`] is a durable JetStream consumer whose [`Delivery`]s are acknowledged one by
//!   one once handled, so nothing is missed while a consumer or its downstream is away; one
//!   at a time ([`Connection::durable`]) or a window of them ([`Connection::durable_with`],
//!   which `lifecycle-deliver`'s engine uses).
//! - [`Shutdown`] says when to stop receiving: SIGINT or SIGTERM, caught from the moment it
//!   is made, with the [`Signal`] that asked (for an exit status, 130 or 143).
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use lifecycle_core::{EventType, Format};
//! use lifecycle_nats::{ConnectOptions, Connection, Interest, Settings};
//!
//! # async fn run() -> Result<(), lifecycle_nats::Error> {
//! let settings = Settings::resolve(&ConnectOptions::default())?;
//! let connection = Connection::connect(&settings).await?;
//! let interest = Interest::default().types([EventType::Alive]).components(["server"]);
//! let mut events = connection.subscribe(&interest).await?;
//! while let Some(received) = events.next().await {
//!     match received {
//!         Ok(event) => println!("{}", event.parsed.event()),
//!         Err(invalid) => eprintln!("{invalid}"),
//!     }
//! }
//! # Ok(()) }
//! ```

mod catch_up;
mod choria_config;
mod connection;
mod dead_letter;
mod durable;
mod error;
mod jetstream;
mod publish;
mod recurring;
mod server_url;
mod settings;
mod shutdown;
mod srv;
mod stream_report;
mod streams;
mod subscribe;
mod version;

pub use catch_up::CatchUp;
pub use choria_config::{
    ChoriaConfig, ChoriaEnvironment, PUPPET_ROOT_SSL_DIR, PUPPET_USER_SSL_DIR, TlsFiles,
};
pub use connection::Connection;
pub use dead_letter::{DeadLetter, DeadLetters, Kept, headers as dead_letter_headers};
pub use durable::{DEFAULT_ACK_WAIT, Delivery, Durable};
pub use error::{Error, ErrorKind};
pub use jetstream::ReplayFrom;
pub use lifecycle_secret::Secret;
pub use publish::Publisher;
pub use recurring::{Recurring, WARNING_INTERVAL};
pub use server_url::ServerUrl;
pub use settings::{
    CHORIA_CONFIG_FILES, ConnectOptions, DEFAULT_SERVER, Environment, ServerSource, Settings,
};
pub use shutdown::{Shutdown, Signal};
pub use srv::SRV_SERVICES;
pub use stream_report::StreamReport;
pub use streams::{
    DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECTS, DEFAULT_RETENTION, EVENTS_STREAM, EVENTS_SUBJECTS,
    MACHINE_STREAM, MACHINE_SUBJECTS, StreamChange, StreamSpec, StreamState,
};
pub use subscribe::{Interest, InvalidMessage, ReceiveError, Received, Subscription};
pub use version::{JETSTREAM_MIN_VERSION, ServerVersion};

/// README.md's examples compile and run as doctests of this crate, which sees both layers.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
