//! Receiving the events a filter passes, for `view` and `wait`: subscribe (or replay from
//! JetStream first), then hand out matching events until a deadline, Ctrl-C, or the end.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use futures_util::StreamExt;
use futures_util::future::{Fuse, FutureExt};
use lifecycle_core::{Filter, Since};
use lifecycle_nats::{
    Connection, Interest, Received, Recurring, ReplayFrom, Subscription, WARNING_INTERVAL,
};
use tokio::time::Instant;
use tracing::info;

/// Why the events stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The timeout passed.
    Timeout,
    /// Ctrl-C.
    Interrupted,
    /// The subscription ended.
    Closed,
}

/// Exit status after Ctrl-C, as shells report a SIGINT.
pub(crate) const INTERRUPTED: u8 = 130;

/// Matching events from a subscription. Messages that are not events are skipped with one
/// warning per interval (the first at once), and a last one with the total when it ends;
/// the connection's slow-consumer drops are told the same way.
pub(crate) struct Events {
    connection: Connection,
    subscription: Subscription,
    deadline: Option<Instant>,
    interrupt: Fuse<Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>>,
    invalid: Recurring,
    /// When to log the invalid messages the last warning did not count.
    report: tokio::time::Interval,
}

impl Events {
    /// Logs what the last warnings did not count.
    fn report(&mut self) {
        self.invalid.flush();
        self.connection.report_dropped();
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.report();
    }
}

impl Events {
    /// Subscribes to the subjects `filter` narrows to, replaying from `since` in JetStream
    /// first when given, and keeps the events it passes. Logs "receiving events" (at info)
    /// once the server knows the subscription.
    pub(crate) async fn open(
        connection: &Connection,
        filter: Filter,
        since: Option<Since>,
        timeout: Option<Duration>,
    ) -> anyhow::Result<Events> {
        // A timeout past what the clock holds is no timeout (durations are bounded anyway).
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // ctrl_c() installs its handler when first polled: poll it now, so that a Ctrl-C
        // once "receiving events" is logged ends the command with 130, not by the signal.
        let ctrl_c: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> =
            Box::pin(tokio::signal::ctrl_c());
        let mut interrupt = ctrl_c.fuse();
        let _ = (&mut interrupt).now_or_never();
        let interest = Interest::from_filter(&filter);
        let subscription = match since {
            Some(since) => {
                let from = since
                    .start(SystemTime::now())
                    .context("--since is a time to come: there is nothing to replay yet")?;
                connection.replay(&interest, ReplayFrom::Time(from)).await?
            }
            None => connection.subscribe(&interest).await?,
        }
        .filtered(filter);
        connection.client().flush().await?;
        info!(subjects = ?interest.subjects()?, "receiving events");
        Ok(Events {
            connection: connection.clone(),
            subscription,
            deadline,
            interrupt,
            invalid: Recurring::new("invalid messages skipped"),
            report: tokio::time::interval_at(Instant::now() + WARNING_INTERVAL, WARNING_INTERVAL),
        })
    }

    /// The next event the filter passes, or why there is none.
    pub(crate) async fn next(&mut self) -> Result<Received, Stop> {
        loop {
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
                _ = &mut self.interrupt => return Err(Stop::Interrupted),
                _ = self.report.tick() => {
                    self.report();
                    continue;
                }
            };
            match received {
                None => return Err(Stop::Closed),
                Some(Ok(received)) => return Ok(received),
                Some(Err(error)) => self.invalid.record(error),
            }
        }
    }
}
