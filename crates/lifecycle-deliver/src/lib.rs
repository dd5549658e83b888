//! Durable delivery of Choria lifecycle events: from a durable JetStream consumer on
//! `CHORIA_EVENTS` to an async handler, at least once, in order per key, in parallel across
//! keys, with retries and dead letters. `lifecycle forward` and `lifecycle react` are built
//! on it.
//!
//! - [`Engine`] consumes ([`Engine::run_durable`], or [`Engine::run_live`] without
//!   JetStream) and hands each event its [`Settings::filter`] passes to a [`Handler`]. An
//!   event is acknowledged only once its handler succeeded or it was dead-lettered; a crash
//!   loses nothing, since what was not acknowledged comes back.
//! - [`Settings::key`] says which events must be handled one at a time, in stream order
//!   (identity by default); up to [`Settings::concurrency`] handlers run at once.
//! - A [`Failure`] is transient (retried with capped exponential [`Backoff`]) or permanent;
//!   an event that fails permanently or is out of attempts is dead-lettered: counted, logged
//!   once with its id and why, published to [`Settings::dead_letters`] when set.
//! - [`RuleMetrics`] counts what one engine did; [`Metrics`] holds several, labelled by rule;
//!   [`report_progress`] logs them now and then.
//! - [`Settings::with_concurrency`] and [`Backoff::capped`] are the settings `forward` and a
//!   rule of `react` ask for.
//!
//! ```no_run
//! use lifecycle_core::KeyBy;
//! use lifecycle_deliver::{Engine, Failure, Handler, Settings};
//! use lifecycle_nats::{ConnectOptions, Connection, Received, Settings as NatsSettings};
//!
//! struct Print;
//!
//! impl Handler for Print {
//!     type Action = String;
//!     fn prepare(&self, event: &Received) -> Result<String, Failure> {
//!         Ok(event.parsed.event().to_string())
//!     }
//!     async fn attempt(&self, line: &String, _attempt: u32) -> Result<(), Failure> {
//!         println!("{line}");
//!         Ok(())
//!     }
//!     fn describe(&self) -> String {
//!         "stdout".into()
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let connection = Connection::connect(&NatsSettings::resolve(&ConnectOptions::default())?).await?;
//! let mut settings = Settings::new("print");
//! settings.filter = lifecycle_core::Filter::parse("startup,component=server")?;
//! settings.key = Some(KeyBy::Identity);
//! settings.concurrency = 10;
//! let engine = Engine::new(Print, settings);
//! let ack_wait = std::time::Duration::from_secs(30);
//! engine.run_durable(&connection, "printer", ack_wait, std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod backoff;
mod dedupe;
mod engine;
mod failure;
mod handler;
mod message;
mod metrics;
mod progress;
mod schedule;

pub use backoff::Backoff;
pub use dedupe::MAX_REMEMBERED;
pub use engine::{DEFAULT_GRACE, Engine, Settings, Stopped, default_in_flight};
pub use failure::Failure;
pub use handler::Handler;
pub use metrics::{Metrics, RuleMetrics};
pub use progress::report_progress;
