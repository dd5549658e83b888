//! Driving a simulation in real time into a sink: NATS, or a function in process.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lifecycle_core::Event;
use lifecycle_nats::Publisher;
use tracing::warn;

use crate::error::SpecError;
use crate::fleet::{Simulation, Step};
use crate::spec::check_rate;

/// Where simulated events go.
pub trait Sink {
    /// Why an event could not be sent.
    type Error: std::error::Error + 'static;

    /// Sends one event.
    fn send(&mut self, event: Event) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Waits until everything sent has left.
    fn flush(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Publishes to NATS, in the publisher's format.
impl Sink for Publisher {
    type Error = lifecycle_nats::Error;

    async fn send(&mut self, event: Event) -> Result<(), Self::Error> {
        self.publish(&event).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Publisher::flush(self).await
    }
}

/// A sink that hands each event to a function in this process, without a broker: a tally's
/// `observe`, or a test collecting what was sent.
///
/// ```
/// use lifecycle_simulate::FnSink;
///
/// let mut sent = Vec::new();
/// let sink = FnSink(|event: lifecycle_core::Event| sent.push(event.to_string()));
/// # drop(sink);
/// ```
#[derive(Debug, Clone)]
pub struct FnSink<F>(pub F);

impl<F: FnMut(Event) + Send> Sink for FnSink<F> {
    type Error = Infallible;

    async fn send(&mut self, event: Event) -> Result<(), Self::Error> {
        (self.0)(event);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// How to run a simulation.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// At most this many events a second; `None` sends as fast as the sink takes them.
    pub rate: Option<f64>,
    /// Stop after this long; `None` runs until stopped.
    pub duration: Option<Duration>,
    /// On stopping, every component up sends its shutdown.
    pub shutdown_at_end: bool,
}

impl RunOptions {
    /// Checks the options: a rate must be a number of events a second from
    /// [`MIN_RATE`](crate::MIN_RATE) to [`MAX_RATE`](crate::MAX_RATE).
    pub fn validate(&self) -> Result<(), SpecError> {
        match self.rate {
            Some(rate) => check_rate("rate", rate, false).map(drop),
            None => Ok(()),
        }
    }
}

/// Counters of a running simulation, readable while it runs (for a progress bar).
#[derive(Debug, Default)]
pub struct Stats {
    sent: AtomicU64,
    errors: AtomicU64,
}

impl Stats {
    /// Events sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Events the sink refused.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// How a run went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Events sent.
    pub sent: u64,
    /// Events the sink refused.
    pub errors: u64,
    /// How long it ran, flush included.
    pub elapsed: Duration,
}

impl Summary {
    /// Events sent per second.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Events sent between checks for a stop request, which also let other tasks run.
const BATCH: u32 = 256;

/// Runs `simulation` into `sink` in real time until `options.duration` has passed or `stop`
/// completes, then (with `shutdown_at_end`) shuts the fleet down and flushes the sink.
///
/// Events the sink refuses are counted in `stats`, logged, and not retried: the simulation
/// goes on, and its counts then no longer match what the sink saw. Options that
/// [`RunOptions::validate`] refuses are refused before anything is sent.
pub async fn run<S: Sink>(
    simulation: &mut Simulation,
    sink: &mut S,
    options: &RunOptions,
    stats: &Stats,
    stop: impl Future<Output = ()>,
) -> Result<Summary, SpecError> {
    options.validate()?;
    let start = Instant::now();
    // A duration past what the clock holds has no deadline.
    let deadline = options.duration.and_then(|d| start.checked_add(d));
    let mut stop = std::pin::pin!(stop);
    let mut stopping = false;
    let mut batch = 0;
    loop {
        // One clock reading per event: its cost shows at a million events a second.
        let now = Instant::now();
        if !stopping && deadline.is_some_and(|d| now >= d) {
            stopping = true;
        }
        if stopping {
            if !options.shutdown_at_end {
                break;
            }
            simulation.end();
        }
        if let Some(rate) = options.rate {
            // Due at sent / rate: ahead of that, wait (a burst of up to a millisecond's worth).
            let due = Duration::try_from_secs_f64(stats.sent() as f64 / rate)
                .ok()
                .and_then(|after| start.checked_add(after))
                .unwrap_or(far_future(start));
            if due > now + Duration::from_millis(1) {
                stopping |= sleep_or_stop(due, deadline, stopping, &mut stop).await;
                continue;
            }
        }
        match simulation.next(now - start) {
            Step::Send(event) => {
                if let Err(e) = sink.send(event).await {
                    let errors = stats.errors.fetch_add(1, Ordering::Relaxed) + 1;
                    if errors.is_power_of_two() {
                        warn!(
                            errors,
                            "could not send a simulated event: {}",
                            lifecycle_core::ErrorChain(&e)
                        );
                    }
                }
                stats.sent.fetch_add(1, Ordering::Relaxed);
                batch += 1;
                if batch == BATCH {
                    batch = 0;
                    if !stopping {
                        tokio::select! {
                            biased;
                            () = &mut stop => stopping = true,
                            () = tokio::task::yield_now() => {}
                        }
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            }
            Step::Wait(at) => {
                let until = start.checked_add(at).unwrap_or(far_future(start));
                stopping |= sleep_or_stop(until, deadline, stopping, &mut stop).await;
            }
            Step::Done => break,
        }
    }
    if let Err(e) = sink.flush().await {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        warn!(
            "could not flush simulated events: {}",
            lifecycle_core::ErrorChain(&e)
        );
    }
    Ok(Summary {
        sent: stats.sent(),
        errors: stats.errors(),
        elapsed: start.elapsed(),
    })
}

/// A time no run reaches, for work due past what the clock holds: a year from `start`.
fn far_future(start: Instant) -> Instant {
    start
        .checked_add(Duration::from_secs(86_400 * 365))
        .unwrap_or(start)
}

/// Sleeps until `until` (or, when not yet stopping, the deadline if sooner); true when
/// stopped meanwhile.
async fn sleep_or_stop(
    until: Instant,
    deadline: Option<Instant>,
    stopping: bool,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> bool {
    if stopping {
        tokio::time::sleep_until(until.into()).await;
        return false;
    }
    let until = deadline.map_or(until, |d| until.min(d));
    let sleep = tokio::time::sleep_until(until.into());
    tokio::select! {
        () = stop.as_mut() => true,
        () = sleep => false,
    }
}
