//! A simulated Choria fleet, to try and load-test everything that consumes lifecycle events
//! without a fleet.
//!
//! - [`FleetSpec`] says what fleet: nodes, components, versions and their shares, the alive
//!   interval, restarts and a rolling [`Upgrade`].
//! - [`Simulation`] is that fleet in time: a startup storm, then alives spread evenly over
//!   the interval, restarts and upgrades. It always knows its own counts.
//! - [`run`] drives a simulation in real time, at a rate, into a [`Sink`]: a NATS
//!   [`Publisher`](lifecycle_nats::Publisher), or a [`Tally`](lifecycle_tally::Tally) in
//!   process with no broker at all.
//!
//! ```
//! use std::time::Duration;
//! use lifecycle_simulate::{FleetSpec, RunOptions, Simulation, Stats, run};
//! use lifecycle_tally::{Tally, TallyOptions};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let mut fleet = Simulation::new(FleetSpec { nodes: 500, ..Default::default() })?;
//! let mut tally = Tally::new(TallyOptions::default());
//! let options = RunOptions { duration: Some(Duration::from_millis(100)), ..Default::default() };
//! run(&mut fleet, &mut tally, &options, &Stats::default(), std::future::pending()).await?;
//! assert_eq!(fleet.counts()[0].versions["0.29.4"], 500);
//! assert_eq!(tally.component_counts(), fleet.counts());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod error;
mod fleet;
mod run;
mod spec;

pub use error::{Error, ErrorKind, SpecError};
pub use fleet::{Simulation, Step};
pub use run::{RunOptions, Sink, Stats, Summary, run};
pub use spec::{
    FleetSpec, MAX_MEMBERS, MAX_NODES, MAX_RATE, MIN_RATE, RESTART_DOWNTIME, Upgrade, VersionShare,
    check_rate,
};
