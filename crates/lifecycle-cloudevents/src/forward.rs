//! POSTing events to a CloudEvents receiver, with retries and capped exponential backoff.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use lifecycle_core::AnyEvent;
use tracing::{debug, error, info, warn};

use crate::convert::to_cloudevent;
use crate::error::{Chain, Error, ErrorKind};
use crate::http::{Mode, encode};
use crate::metrics::Metrics;

/// How long a [`Forwarder`] waits for the receiver to answer one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An event waiting to be delivered, with whatever its source needs to hear back: a
/// JetStream message to acknowledge, or nothing for a live subscription.
pub trait Pending: Send {
    /// The event.
    fn event(&self) -> &AnyEvent;

    /// Called before each wait between attempts, so a source that redelivers unacknowledged
    /// events after a while can be told this one is still being worked on.
    fn in_progress(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Called once, when the forwarder is done with the event.
    fn settle(self, outcome: Outcome) -> impl Future<Output = ()> + Send;
}

/// A bare event needs no acknowledgement.
impl Pending for AnyEvent {
    fn event(&self) -> &AnyEvent {
        self
    }

    async fn settle(self, _outcome: Outcome) {}
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It can never be delivered: the receiver refused it (4xx other than 408 and 429) or it
    /// could not be converted. Redelivering it would not help.
    Rejected,
    /// Still failing after the last attempt; a later try may succeed.
    Failed,
    /// The forwarder stopped before the delivery ended.
    Abandoned,
}

/// When to try again: `initial`, doubling up to `max`; `attempts` in all (`None`: until it
/// succeeds or the forwarder stops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts per event, the first included; `None` for no limit.
    pub attempts: Option<u32>,
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s, no limit on attempts.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            attempts: None,
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Sends events to one CloudEvents receiver over HTTP, one at a time and in the order its
/// source gives them, counting what happens in [`Metrics`].
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    url: reqwest::Url,
    mode: Mode,
    backoff: Backoff,
    metrics: Metrics,
}

impl Forwarder {
    /// A forwarder POSTing to `url` in `mode`, with the default [`Backoff`] and
    /// [`REQUEST_TIMEOUT`] per request.
    pub fn new(url: &str, mode: Mode) -> Result<Forwarder, Error> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| Error::with_source(ErrorKind::InvalidUrl(url.to_owned()), e))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::with_source(
                ErrorKind::InvalidUrl(url.to_owned()),
                "expected an http or https URL",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Http, e))?;
        Ok(Forwarder {
            client,
            url: parsed,
            mode,
            backoff: Backoff::default(),
            metrics: Metrics::default(),
        })
    }

    /// Uses `backoff` between attempts.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The receiver.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// One attempt: `Ok` when the receiver answered 2xx.
    pub async fn send(&self, event: &AnyEvent) -> Result<(), Error> {
        self.send_cloudevent(to_cloudevent(event)?).await
    }

    /// One attempt with an event already converted.
    pub async fn send_cloudevent(&self, event: cloudevents::Event) -> Result<(), Error> {
        let request = encode(event, self.mode, self.client.post(self.url.clone()))?;
        let response = request
            .send()
            .await
            .map_err(|e| Error::with_source(ErrorKind::Http, e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Status(status.as_u16())))
        }
    }

    /// Delivers one event, trying again after failures that may pass. Every attempt sends
    /// the same CloudEvent, `id` included, so a receiver can recognise a repeat.
    pub async fn deliver<P: Pending>(&self, pending: &mut P) -> Outcome {
        let cloudevent = match to_cloudevent(pending.event()) {
            Ok(cloudevent) => cloudevent,
            Err(error) => {
                self.metrics.count_failed();
                error!(id = pending.event().id(), error = %Chain(&error), "cannot convert the event, dropping it");
                return Outcome::Rejected;
            }
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let error = match self.send_cloudevent(cloudevent.clone()).await {
                Ok(()) => {
                    self.metrics.count_delivered();
                    debug!(id = pending.event().id(), attempt, "delivered");
                    return Outcome::Delivered;
                }
                Err(error) => error,
            };
            let event = pending.event();
            if !retryable(&error) {
                self.metrics.count_failed();
                error!(id = event.id(), identity = event.identity(), error = %Chain(&error), "receiver refused the event, dropping it");
                return Outcome::Rejected;
            }
            if self.backoff.attempts.is_some_and(|n| attempt >= n) {
                self.metrics.count_failed();
                error!(id = event.id(), identity = event.identity(), attempts = attempt, error = %Chain(&error), "giving up on the event");
                return Outcome::Failed;
            }
            self.metrics.count_retried();
            let delay = self.backoff.delay(attempt);
            warn!(id = event.id(), attempt, retry_in = ?delay, error = %Chain(&error), "delivery failed, retrying");
            pending.in_progress().await;
            tokio::time::sleep(delay).await;
        }
    }

    /// Delivers every event of `events` in order until it ends or `shutdown` completes,
    /// settling each one with its [`Outcome`]. An event in flight at shutdown is settled as
    /// [`Outcome::Abandoned`].
    pub async fn run<S, P>(&self, events: S, shutdown: impl Future<Output = ()>) -> Stopped
    where
        S: Stream<Item = P>,
        P: Pending,
    {
        let mut events = pin!(events);
        let mut shutdown = pin!(shutdown);
        info!(url = %self.url, mode = %self.mode, "forwarding events");
        let stopped = loop {
            let next = tokio::select! {
                () = &mut shutdown => break Stopped::Shutdown,
                next = events.next() => next,
            };
            let Some(mut pending) = next else {
                break Stopped::SourceEnded;
            };
            let outcome = tokio::select! {
                () = &mut shutdown => None,
                outcome = self.deliver(&mut pending) => Some(outcome),
            };
            match outcome {
                Some(outcome) => pending.settle(outcome).await,
                None => {
                    pending.settle(Outcome::Abandoned).await;
                    break Stopped::Shutdown;
                }
            }
        };
        info!(
            delivered = self.metrics.delivered(),
            retried = self.metrics.retried(),
            failed = self.metrics.failed(),
            ?stopped,
            "forwarding stopped"
        );
        stopped
    }
}

/// Why [`Forwarder::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The shutdown future completed.
    Shutdown,
    /// The source of events ended.
    SourceEnded,
}

/// Whether trying again may help: the receiver was unreachable, timed out, or answered
/// 5xx, 408 or 429.
fn retryable(error: &Error) -> bool {
    match error.kind() {
        ErrorKind::Http => true,
        ErrorKind::Status(code) => *code >= 500 || *code == 408 || *code == 429,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            attempts: None,
        };
        let delays: Vec<u128> = (1..=8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(b.delay(100), Duration::from_secs(2));
    }

    #[test]
    fn what_is_retried() {
        let cases = [
            (ErrorKind::Http, true),
            (ErrorKind::Status(500), true),
            (ErrorKind::Status(503), true),
            (ErrorKind::Status(429), true),
            (ErrorKind::Status(408), true),
            (ErrorKind::Status(400), false),
            (ErrorKind::Status(404), false),
            (ErrorKind::NotAnEvent, false),
        ];
        for (kind, expected) in cases {
            assert_eq!(retryable(&Error::new(kind.clone())), expected, "{kind:?}");
        }
    }

    #[test]
    fn urls_must_be_http() {
        assert!(Forwarder::new("http://127.0.0.1:8080/events", Mode::Binary).is_ok());
        let error = Forwarder::new("nats://x", Mode::Binary).unwrap_err();
        assert_eq!(error.to_string(), "invalid receiver URL 'nats://x'");
        assert_eq!(
            Chain(&error).to_string(),
            "invalid receiver URL 'nats://x': expected an http or https URL"
        );
        assert!(Forwarder::new("not a url", Mode::Binary).is_err());
    }
}
