//! A simulated Choria fleet, to try and load-test everything that consumes lifecycle events
//! without a fleet.
//!
//! - [`FleetSpec`] says what fleet: nodes, components, versions and their shares, the alive
//!   interval, restarts and a rolling [`Upgrade`].
//! - [`Simulation`] is that fleet in time: a startup storm, then alives spread evenly over
//!   the interval, restarts and upgrades. It always knows its own counts.
//! - [`run`] drives a simulation in real time, at a rate, into a [`Sink`]: a NATS
//!   [`Publisher`](lifecycle_nats::Publisher), or an [`FnSink`] in process with no broker at
//!   all (`lifecycle simulate --tally` feeds a tally's `observe` so).
//!
//! ```
//! use std::time::Duration;
//! use lifecycle_simulate::{FleetSpec, FnSink, RunOptions, Simulation, Stats, run};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let mut fleet = Simulation::new(FleetSpec { nodes: 500, ..Default::default() })?;
//! // Each node that started, as a tally would count it.
//! let mut started = std::collections::HashSet::new();
//! let mut sink = FnSink(|event: lifecycle_core::Event| {
//!     if event.event_type() == lifecycle_core::EventType::Startup {
//!         started.insert(event.identity().to_owned());
//!     }
//! });
//! let options = RunOptions { duration: Some(Duration::from_millis(100)), ..Default::default() };
//! run(&mut fleet, &mut sink, &options, &Stats::default(), std::future::pending()).await?;
//! assert_eq!(fleet.counts()["server"]["0.29.4"], 500);
//! assert_eq!(started.len(), 500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod fleet;
mod limits;
mod run;
mod spec;

pub use error::{Error, ErrorKind, SpecError};
pub use fleet::{Simulation, Step};
pub use limits::{MAX_MEMBERS, MAX_NODES, MAX_RATE, MIN_RATE};
pub use run::{FnSink, RunOptions, Sink, Stats, Summary, run};
pub use spec::{FleetSpec, RESTART_DOWNTIME, Upgrade, VersionShare, check_rate};
