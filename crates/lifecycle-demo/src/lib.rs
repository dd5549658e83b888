//! A simulated Choria fleet counted by a tally with its live dashboard: `lifecycle demo`, and
//! `lifecycle simulate --tally`.
//!
//! - [`Demo`] is the demo: servers on two versions with an upgrade rolling through them
//!   ([`fleets`]) and a few brokers, counted by a tally whose dashboard it serves, through a
//!   local nats-server ([`local_broker`]) when there is one, else in process. [`Guide`] is
//!   what it tells a person to try.
//! - [`in_process`] is a tally fed simulated events in this process, with no broker, and
//!   [`count_in_process`] runs a simulation into a tally it serves.
//!
//! It joins `lifecycle-localnats`, `lifecycle-simulate` and `lifecycle-tally`, which know
//! nothing of one another.
//!
//! ```no_run
//! use lifecycle_demo::{Demo, local_broker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = local_broker()?;
//! let demo = Demo::new(500, 8080)?;
//! let shutdown = lifecycle_nats::Shutdown::install();
//! demo.run(broker.as_ref(), shutdown.requested(), |guide| print!("{guide}")).await?;
//! # Ok(()) }
//! ```

mod demo;
mod error;
mod in_process;

pub use demo::{Demo, Guide, UPGRADE_TO, fleets, local_broker, own_command};
pub use error::{Error, ErrorKind};
pub use in_process::{count_in_process, in_process};
