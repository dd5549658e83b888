//! Receiving the events a filter passes: subscribe (or replay from JetStream first), then hand
//! out matching events until a deadline, a stop signal, or the end, and say when a replay has
//! caught up with the present.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use futures_util::StreamExt;
use futures_util::future::{Fuse, FutureExt};
use lifecycle_core::duration::Since;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_core::{Filter, Interest, format_utc};
use lifecycle_nats::{
    CatchUp, Connection, ReceiveError, Received, Recurring, ReplayFrom, Subscription,
    WARNING_INTERVAL,
};
use tokio::time::Instant;
use tracing::{debug, info};

use crate::error::{Error, ErrorKind};

/// Why the events stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The deadline passed.
    Timeout,
    /// The stop signal came (SIGINT or SIGTERM, for the command line: a
    /// [`Shutdown`](lifecycle_nats::Shutdown)).
    Interrupted,
    /// The subscription ended.
    Closed,
}

/// What [`Events::step`] hands out.
#[derive(Debug)]
pub enum Step {
    /// An event the filter passes.
    Event(Box<Received>),
    /// The replay has delivered everything stored when it started: from here on, events are
    /// the present. Comes once, first of all when there was nothing to replay or no replay.
    CaughtUp,
}

/// What to receive, from when, and until when: build it, then [`Watch::open`] it.
///
/// ```no_run
/// use lifecycle_core::Filter;
/// use lifecycle_core::duration::Since;
/// use lifecycle_nats::Shutdown;
/// use lifecycle_watch::Watch;
///
/// # async fn run(connection: lifecycle_nats::Connection) -> Result<(), lifecycle_watch::Error> {
/// let filter = Filter::parse("alive,component=server").unwrap();
/// let shutdown = Shutdown::install(); // SIGINT or SIGTERM, caught from now on
/// let mut events = Watch::new(filter)
///     .since(Since::parse("10m").unwrap())
///     .timeout(std::time::Duration::from_secs(60))
///     .stop(shutdown.requested())
///     .open(&connection)
///     .await?;
/// while let Ok(received) = events.next().await {
///     println!("{}", received.parsed.event());
/// }
/// # Ok(()) }
/// ```
pub struct Watch {
    filter: Filter,
    interest: Option<Interest>,
    since: Option<Since>,
    deadline: Option<Instant>,
    stop: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("filter", &self.filter)
            .field("interest", &self.interest)
            .field("since", &self.since)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// The events `filter` passes, live, with no deadline.
    pub fn new(filter: Filter) -> Watch {
        Watch {
            filter,
            interest: None,
            since: None,
            deadline: None,
            stop: None,
        }
    }

    /// Subscribe to these subjects rather than the ones the filter narrows to; they must
    /// carry every event the filter passes.
    pub fn interest(mut self, interest: Interest) -> Watch {
        self.interest = Some(interest);
        self
    }

    /// First replay the events stored in `CHORIA_EVENTS` since then.
    pub fn since(mut self, since: Since) -> Watch {
        self.since = Some(since);
        self
    }

    /// Stop at `deadline`.
    pub fn deadline(mut self, deadline: Instant) -> Watch {
        self.deadline = Some(deadline);
        self
    }

    /// Stop once `timeout` has passed from now (a timeout past what the clock holds is none).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Watch {
        self.deadline = Instant::now().checked_add(timeout);
        self
    }

    /// Stop when `signal` completes ([`Stop::Interrupted`]), such as
    /// [`Shutdown::requested`](lifecycle_nats::Shutdown::requested). A signal handler must be
    /// installed before [`Watch::open`] logs "receiving events" (a `Shutdown` is, when it is
    /// made; `tokio::signal::ctrl_c` only once first polled): until then the signal is not
    /// caught.
    pub fn stop(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Watch {
        self.stop = Some(Box::pin(signal));
        self
    }

    /// Subscribes (replaying first when asked) and logs "receiving events" at info once the
    /// server knows the subscription. A replay JetStream cannot start yet (a stream electing
    /// its leader) is asked for again until it starts, the deadline passes or the stop
    /// signal comes ([`ErrorKind::Stopped`], saying what it waited for).
    pub async fn open(self, connection: &Connection) -> Result<Events, Error> {
        let interest = self
            .interest
            .unwrap_or_else(|| Interest::from_filter(&self.filter));
        let mut stop = self
            .stop
            .unwrap_or_else(|| Box::pin(std::future::pending()));
        let subscription = match self.since {
            Some(since) => {
                let now = SystemTime::now();
                let from = since.start(now).ok_or_else(|| {
                    Error::new(ErrorKind::FutureStart {
                        start: since_text(since),
                    })
                })?;
                let replay = Patient {
                    connection,
                    deadline: self.deadline,
                    stop: &mut stop,
                };
                replay.replay(&interest, from).await?
            }
            None => connection.subscribe(&interest).await?,
        };
        let caught_up = CatchUp::new(subscription.backlog());
        connection
            .client()
            .flush()
            .await
            .map_err(lifecycle_nats::Error::flush)?;
        info!(subjects = ?interest.subjects()?, "receiving events");
        Ok(Events {
            connection: connection.clone(),
            subscription,
            filter: self.filter,
            deadline: self.deadline,
            stop: stop.fuse(),
            caught_up,
            announced: false,
            invalid: Recurring::new("invalid messages skipped"),
            report: tokio::time::interval_at(Instant::now() + WARNING_INTERVAL, WARNING_INTERVAL),
        })
    }
}

/// A stop signal, boxed to be polled in place and handed on.
type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Asks JetStream for a replay until it starts, the deadline passes or the stop signal
/// comes: a stream electing its leader answers nothing, or 503, for a few seconds.
struct Patient<'a> {
    connection: &'a Connection,
    deadline: Option<Instant>,
    stop: &'a mut StopSignal,
}

/// The first pause before asking again, doubled up to [`MOST_RETRY_DELAY`].
const FIRST_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(250);
const MOST_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

impl Patient<'_> {
    async fn replay(self, interest: &Interest, from: SystemTime) -> Result<Subscription, Error> {
        let Patient {
            connection,
            deadline,
            stop,
        } = self;
        let waiting_for = format!("the replay of {}", lifecycle_nats::EVENTS_STREAM);
        let stopped = |stop: Stop, last: Option<lifecycle_nats::Error>| {
            let kind = ErrorKind::Stopped {
                stop,
                waiting_for: waiting_for.clone(),
            };
            match last {
                Some(error) => Error::with_source(kind, error),
                None => Error::new(kind),
            }
        };
        let expired = || async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let mut failures = Recurring::new(
            "JetStream cannot start the replay yet (a stream electing its leader?), asking again",
        );
        let mut delay = FIRST_RETRY_DELAY;
        let mut last = None;
        loop {
            tokio::select! {
                replay = connection.replay(interest, ReplayFrom::Time(from)) => match replay {
                    Ok(subscription) => return Ok(subscription),
                    Err(error) if matches!(error.kind(), lifecycle_nats::ErrorKind::JetStream) => {
                        failures.record(lifecycle_core::ErrorChain(&error));
                        last = Some(error);
                    }
                    Err(error) => return Err(error.into()),
                },
                () = expired() => return Err(stopped(Stop::Timeout, last)),
                () = stop.as_mut() => return Err(stopped(Stop::Interrupted, last)),
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = expired() => return Err(stopped(Stop::Timeout, last)),
                () = stop.as_mut() => return Err(stopped(Stop::Interrupted, last)),
            }
            delay = (delay * 2).min(MOST_RETRY_DELAY);
        }
    }
}

/// A `--since` as its text, for the error saying it is to come.
fn since_text(since: Since) -> String {
    match since {
        Since::Ago(ago) => lifecycle_core::duration::format(ago),
        Since::Time(at) => format_utc(lifecycle_core::clock::unix_seconds(at))
            .unwrap_or_else(|| "a time to come".to_owned()),
    }
}

/// The events a [`Watch`] receives. Messages that are not events are skipped with one warning
/// per interval (the first at once), and a last one with the total when it is dropped; the
/// connection's slow-consumer drops are told the same way.
pub struct Events {
    connection: Connection,
    subscription: Subscription,
    filter: Filter,
    deadline: Option<Instant>,
    stop: Fuse<Pin<Box<dyn Future<Output = ()> + Send>>>,
    caught_up: CatchUp,
    /// Whether [`Step::CaughtUp`] was given.
    announced: bool,
    invalid: Recurring,
    /// When to log the invalid messages the last warning did not count.
    report: tokio::time::Interval,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("filter", &self.filter)
            .field("deadline", &self.deadline)
            .field("caught_up", &self.caught_up)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Logs what the last warnings did not count.
    fn report(&mut self) {
        self.invalid.flush();
        self.connection.report_dropped();
    }

    /// Whether the replay has delivered what was stored when it started (always, without a
    /// replay).
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.is_caught_up()
    }

    /// The next event the filter passes, or why there is none.
    pub async fn next(&mut self) -> Result<Received, Stop> {
        loop {
            if let Step::Event(received) = self.step().await? {
                return Ok(*received);
            }
        }
    }

    /// The next event the filter passes, or the moment the replay caught up, or why there
    /// is neither.
    pub async fn step(&mut self) -> Result<Step, Stop> {
        loop {
            if !self.announced && self.caught_up.is_caught_up() {
                self.announced = true;
                return Ok(Step::CaughtUp);
            }
            let deadline = self.deadline;
            let expired = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let received = tokio::select! {
                received = self.subscription.next() => received,
                () = expired => return Err(Stop::Timeout),
                () = &mut self.stop => return Err(Stop::Interrupted),
                _ = self.report.tick() => {
                    self.report();
                    continue;
                }
            };
            // Whatever the filter makes of them, stored messages count toward the replay.
            match &received {
                Some(Ok(received)) => _ = self.caught_up.record(received.pending),
                Some(Err(ReceiveError::Invalid(invalid))) => {
                    _ = self.caught_up.record(invalid.pending)
                }
                _ => {}
            }
            match received {
                None => return Err(Stop::Closed),
                Some(Ok(received)) => {
                    let event = received.parsed.event();
                    let passes = self.filter.matches(event);
                    // Every event seen, at debug: what a wait or a view is looking at, and
                    // proof for whoever reads the log that it got this far.
                    debug!(
                        id = %TerminalSafe(event.id()),
                        identity = %TerminalSafe(event.identity()),
                        r#type = event.type_name(),
                        passes,
                        "event received"
                    );
                    if passes {
                        return Ok(Step::Event(Box::new(received)));
                    }
                }
                Some(Err(error)) => self.invalid.record(lifecycle_core::ErrorChain(&error)),
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.report();
    }
}
