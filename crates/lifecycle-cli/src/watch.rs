//! Receiving the events a filter passes, for `view` and `wait`: subscribe (or replay from
//! JetStream first), then hand out matching events until a deadline, Ctrl-C, or the end.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use futures_util::{FutureExt, StreamExt};
use lifecycle_core::{Filter, Since};
use lifecycle_nats::{Connection, Interest, Received, ReplayFrom, Subscription};
use tokio::time::Instant;
use tracing::{info, warn};

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

/// Matching events from a subscription.
pub(crate) struct Events {
    subscription: Subscription,
    deadline: Option<Instant>,
    interrupt: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>,
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
        // Ctrl-C is caught from here on: tokio installs the handler when the future is first
        // polled, and a SIGINT before that would kill the process instead of returning 130.
        let mut interrupt: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> =
            Box::pin(tokio::signal::ctrl_c());
        let _ = (&mut interrupt).now_or_never();
        // A timeout past what the clock holds is no timeout (durations are bounded anyway).
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
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
            subscription,
            deadline,
            interrupt,
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
            };
            match received {
                None => return Err(Stop::Closed),
                Some(Ok(received)) => return Ok(received),
                Some(Err(error)) => warn!("{error}"),
            }
        }
    }
}
