//! A tally fed simulated events in this process, without a broker.

use std::net::SocketAddr;

use lifecycle_core::Event;
use lifecycle_simulate::{FnSink, RunOptions, Simulation, Stats, Summary};
use lifecycle_tally::{DEFAULT_PREFIX, Limits, Tally, TallyOptions};

use crate::error::{Error, ErrorKind};

/// A sink that hands each simulated event to `tally`'s `observe` (`simulate --tally`, the
/// demo without nats-server).
pub fn in_process(tally: Tally) -> FnSink<impl FnMut(Event) + Send> {
    FnSink(move |event: Event| tally.observe(&event.into()))
}

/// Runs `simulation` into a tally in this process whose dashboard and API it serves on
/// `listen` while the simulation runs (`simulate --tally`): `listening` is told the address
/// once it is served. Ends as [`lifecycle_simulate::run`] does.
pub async fn count_in_process(
    simulation: &mut Simulation,
    options: &RunOptions,
    stats: &Stats,
    listen: SocketAddr,
    stop: impl Future<Output = ()>,
    listening: impl FnOnce(SocketAddr),
) -> Result<Summary, Error> {
    let tally = Tally::new(TallyOptions::default());
    tally.set_ready(true);
    tally.metrics().set_active(true);
    let pending = std::future::pending();
    let (address, http) = lifecycle_tally::serve_at(
        tally.clone(),
        listen,
        DEFAULT_PREFIX,
        Limits::default(),
        pending,
    )
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Listen {
                addr: listen.to_string(),
            },
            e,
        )
    })?;
    listening(address);
    let mut sink = in_process(tally);
    let summary = lifecycle_simulate::run(simulation, &mut sink, options, stats, stop).await;
    http.abort();
    Ok(summary?)
}
