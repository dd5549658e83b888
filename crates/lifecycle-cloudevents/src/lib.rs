//! Choria lifecycle events as CloudEvents, through the official SDK (`cloudevents-sdk`).
//!
//! - [`to_cloudevent`] and [`from_cloudevent`] convert between [`lifecycle_core::AnyEvent`]
//!   and the SDK's [`cloudevents::Event`]; a CloudEvent that is not a Choria event is an
//!   [`Error`] whose [`ErrorKind`] says why.
//! - [`encode`] fills an HTTP request in binary or structured [`Mode`] with the SDK's
//!   reqwest binding.
//! - [`Forwarder`] POSTs an event to a receiver; a failed attempt is a [`Failure`] that may
//!   pass later (transient) or never will (permanent). Retries, order and acknowledgements
//!   are `lifecycle-deliver`'s engine's, which `lifecycle forward` and `lifecycle react` use.
//!   [`Forwarder::prepare`] builds an event's request once ([`Encoded`]), by hand, to the
//!   same bytes as the SDK's binding; [`Forwarder::post`] sends it.
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

mod convert;
mod encoded;
mod error;
mod failure;
mod forward;
mod http;

pub use cloudevents;
pub use convert::{from_cloudevent, to_cloudevent};
pub use encoded::Encoded;
pub use error::{Error, ErrorKind};
pub use failure::Failure;
pub use forward::{Forwarder, REQUEST_TIMEOUT};
pub use http::{Mode, encode};
