//! Running a local `nats-server`, for a demo or for tests.
//!
//! [`LocalNats::start`] runs the `nats-server` on PATH (or [`Options::program`]) on a loopback
//! port, random unless [`Options::port`] names one, with JetStream storing in a temporary
//! directory. It returns once the server's log says it is ready, and the server is killed
//! and its directory removed when the [`LocalNats`] is dropped. A missing `nats-server` is an
//! [`Error`] of kind [`ErrorKind::NotFound`] whose message says how to install it.
//!
//! [`find_nats_server`] tells whether there is one to run.
//!
//! ```no_run
//! use lifecycle_localnats::{LocalNats, Options};
//!
//! # fn run() -> Result<(), lifecycle_localnats::Error> {
//! let server = LocalNats::start(Options::default())?;
//! println!("connect to {}", server.url());
//! // Killed, and its JetStream store removed, here.
//! drop(server);
//! # Ok(())
//! # }
//! ```

mod error;
mod server;

pub use error::{Error, ErrorKind, INSTALL_HINT};
pub use server::{LocalNats, Options, find_nats_server};
