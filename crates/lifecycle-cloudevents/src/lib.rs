//! Choria lifecycle events as CloudEvents, through the official SDK (`cloudevents-sdk`).
//!
//! - [`to_cloudevent`] and [`from_cloudevent`] convert between [`lifecycle_core::AnyEvent`]
//!   and the SDK's [`cloudevents::Event`]; a CloudEvent that is not a Choria event is an
//!   [`Error`] whose [`ErrorKind`] says why.
//! - [`encode`] fills an HTTP request in binary or structured [`Mode`] with the SDK's
//!   reqwest binding.
//! - [`Forwarder`] POSTs events to a receiver from any stream of [`Pending`] events,
//!   counting in [`Metrics`]: a [`Failure`] that may pass is retried with capped exponential
//!   [`Backoff`]; an event that can never be delivered, or is out of attempts, is
//!   [`Undeliverable`] and handed to [`Pending::dead_letter`] at once.
//!
//! ```no_run
//! use lifecycle_cloudevents::{Forwarder, Mode, from_cloudevent, to_cloudevent};
//! use lifecycle_core::parse;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let bytes = br#"{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"node1.example.net","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;
//! let event = parse(bytes)?.into_event();
//! let cloudevent = to_cloudevent(&event)?;
//! assert_eq!(from_cloudevent(&cloudevent)?, event);
//!
//! let forwarder = Forwarder::new("http://127.0.0.1:8080/", Mode::Binary)?;
//! forwarder.send(&event).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod convert;
mod error;
mod failure;
mod forward;
mod http;
mod metrics;

pub use cloudevents;
pub use convert::{from_cloudevent, to_cloudevent};
pub use error::{Error, ErrorKind};
pub use failure::Failure;
pub use forward::{Backoff, Forwarder, Outcome, Pending, REQUEST_TIMEOUT, Stopped, Undeliverable};
pub use http::{Mode, encode};
pub use metrics::Metrics;
pub use prometheus_client;
