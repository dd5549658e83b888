//! POSTing events to a CloudEvents receiver, with retries and capped exponential backoff.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use lifecycle_core::{AnyEvent, TerminalSafe};
use tracing::{debug, error, info, warn};

use crate::convert::to_cloudevent;
use crate::error::{Error, ErrorKind};
use crate::failure::Failure;
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

    /// Called once, when the forwarder is done with the event (unless it gave up on it
    /// and [`Pending::dead_letter`] is called instead).
    fn settle(self, outcome: Outcome) -> impl Future<Output = ()> + Send;

    /// Called once, instead of [`Pending::settle`], when the forwarder gave up on the event
    /// (it has counted it and logged why): keep it somewhere (a dead-letter subject), then
    /// let go of it (acknowledge it), so nothing behind it waits. By default it is settled
    /// with `undeliverable.outcome`.
    fn dead_letter(self, undeliverable: Undeliverable) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        self.settle(undeliverable.outcome)
    }
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
    /// Dead-lettered at once: it can never be delivered (a [`Failure::Permanent`]: the
    /// receiver refused it, or it cannot be made into a request).
    Rejected,
    /// Dead-lettered after the last attempt still failed ([`Failure::Transient`]).
    Failed,
    /// The forwarder stopped before the delivery ended.
    Abandoned,
}

/// An event the forwarder gave up on: it is dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeliverable {
    /// [`Outcome::Rejected`] or [`Outcome::Failed`].
    pub outcome: Outcome,
    /// Why: the last failure, with its causes, in one line.
    pub reason: String,
    /// Attempts made, the first included.
    pub attempts: u32,
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

    /// The receiver, with a password and a query in its URL (where webhooks keep their
    /// keys) replaced by `***`: for logs and headers.
    pub fn receiver(&self) -> String {
        let mut shown = self.url.clone();
        if shown.password().is_some() {
            // Only fails for URLs that cannot have a password, and this one has.
            let _ = shown.set_password(Some("***"));
        }
        if shown.query().is_some() {
            shown.set_query(Some("***"));
        }
        shown.into()
    }

    /// One attempt: `Ok` when the receiver answered 2xx.
    pub async fn send(&self, event: &AnyEvent) -> Result<(), Error> {
        self.send_cloudevent(to_cloudevent(event)?).await
    }

    /// One attempt with an event already converted.
    pub async fn send_cloudevent(&self, event: cloudevents::Event) -> Result<(), Error> {
        self.attempt(event).await.map_err(Failure::into_error)
    }

    /// One attempt, its failure sorted into transient or permanent.
    pub async fn attempt(&self, event: cloudevents::Event) -> Result<(), Failure> {
        // Built here, not when sent: a header the event cannot fill is then this event's
        // fault (permanent), not the exchange's.
        // reqwest's errors quote the URL, secrets and all: the receiver is known anyway.
        let request = encode(event, self.mode, self.client.post(self.url.clone()))?
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Unencodable(self.mode), e.without_url()))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| Error::with_source(ErrorKind::Http, e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Status(status.as_u16())).into())
        }
    }

    /// Delivers one event, trying again after transient failures up to the
    /// [`Backoff`]'s attempts. Every attempt sends the same CloudEvent, `id` included, so a
    /// receiver can recognise a repeat. An event given up on is counted as dead-lettered
    /// and logged once.
    pub async fn deliver<P: Pending>(&self, pending: &mut P) -> Outcome {
        match self.try_deliver(pending).await {
            Ok(()) => Outcome::Delivered,
            Err(undeliverable) => undeliverable.outcome,
        }
    }

    async fn try_deliver<P: Pending>(&self, pending: &mut P) -> Result<(), Undeliverable> {
        // Converted once: a machine event's CloudEvent id is made up here, and every
        // attempt must carry the same. One that cannot be converted has had its attempt.
        let mut attempts = 1u32;
        let failure = match to_cloudevent(pending.event()) {
            Err(error) => Failure::Permanent(error),
            Ok(cloudevent) => loop {
                let failure = match self.attempt(cloudevent.clone()).await {
                    Ok(()) => {
                        self.metrics.count_delivered();
                        debug!(id = %TerminalSafe(pending.event().id()), attempts, "delivered");
                        return Ok(());
                    }
                    Err(failure) => failure,
                };
                let out_of_attempts = self.backoff.attempts.is_some_and(|n| attempts >= n);
                if !failure.is_transient() || out_of_attempts {
                    break failure;
                }
                self.metrics.count_retried();
                let delay = self.backoff.delay(attempts);
                warn!(id = %TerminalSafe(pending.event().id()), attempts, retry_in = ?delay, error = %failure, "delivery failed, retrying");
                pending.in_progress().await;
                tokio::time::sleep(delay).await;
                attempts = attempts.saturating_add(1);
            },
        };
        let outcome = if failure.is_transient() {
            Outcome::Failed
        } else {
            Outcome::Rejected
        };
        let undeliverable = Undeliverable {
            outcome,
            reason: failure.to_string(),
            attempts,
        };
        self.metrics.count_dead_letter();
        let event = pending.event();
        // The id and identity came from the network: their control characters are escaped.
        error!(
            id = %TerminalSafe(event.id()),
            identity = %TerminalSafe(event.identity()),
            attempts,
            reason = %TerminalSafe(&undeliverable.reason),
            "dead-lettering the event: {}",
            if failure.is_transient() { "still failing after the last attempt" } else { "it can never be delivered" }
        );
        Err(undeliverable)
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
        info!(url = %self.receiver(), mode = %self.mode, "forwarding events");
        let stopped = loop {
            let next = tokio::select! {
                () = &mut shutdown => break Stopped::Shutdown,
                next = events.next() => next,
            };
            let Some(mut pending) = next else {
                break Stopped::SourceEnded;
            };
            let delivered = tokio::select! {
                () = &mut shutdown => None,
                delivered = self.try_deliver(&mut pending) => Some(delivered),
            };
            match delivered {
                Some(Ok(())) => pending.settle(Outcome::Delivered).await,
                Some(Err(undeliverable)) => pending.dead_letter(undeliverable).await,
                None => {
                    pending.settle(Outcome::Abandoned).await;
                    break Stopped::Shutdown;
                }
            }
        };
        info!(
            delivered = self.metrics.delivered(),
            retried = self.metrics.retried(),
            dead_lettered = self.metrics.dead_lettered(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Chain;

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

    #[test]
    fn the_receiver_is_shown_without_its_password() {
        let forwarder = Forwarder::new(
            "https://alice:s3cret@gw.example.net/hook?key=s3cret",
            Mode::Binary,
        )
        .unwrap();
        assert_eq!(
            forwarder.receiver(),
            "https://alice:***@gw.example.net/hook?***"
        );
        let plain = Forwarder::new("http://127.0.0.1:8080/", Mode::Binary).unwrap();
        assert_eq!(plain.receiver(), "http://127.0.0.1:8080/");
    }

    fn alive(identity: &str) -> AnyEvent {
        lifecycle_core::Event::builder(lifecycle_core::EventType::Alive)
            .identity(identity)
            .component("server")
            .version("0.29.4")
            .build()
            .unwrap()
            .into()
    }

    fn poison() -> AnyEvent {
        alive("bad\nnode")
    }

    #[tokio::test]
    async fn a_failure_never_quotes_the_receiver_url() {
        // Nothing listens there.
        let forwarder =
            Forwarder::new("http://alice:s3cret@127.0.0.1:9/?key=s3cret", Mode::Binary).unwrap();
        for (event, transient) in [(poison(), false), (alive("node1.example.net"), true)] {
            let failure = forwarder
                .attempt(to_cloudevent(&event).unwrap())
                .await
                .unwrap_err();
            assert_eq!(failure.is_transient(), transient, "{failure}");
            assert!(
                !format!("{failure} {failure:?}").contains("s3cret"),
                "{failure:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_event_that_cannot_be_a_request_is_dead_lettered_at_once() {
        // Nothing listens there: had it been sent, it would be a transient failure.
        let forwarder = Forwarder::new("http://127.0.0.1:9/", Mode::Binary)
            .unwrap()
            .with_backoff(Backoff {
                attempts: None,
                ..Backoff::default()
            });
        let mut pending = poison();
        let result =
            tokio::time::timeout(Duration::from_secs(5), forwarder.try_deliver(&mut pending))
                .await
                .expect("not retried");
        let undeliverable = result.unwrap_err();
        assert_eq!(undeliverable.outcome, Outcome::Rejected);
        assert_eq!(undeliverable.attempts, 1);
        assert!(
            undeliverable.reason.starts_with(
                "the event cannot be made into an HTTP request in binary mode (an attribute such \
                 as the identity holds a character an HTTP header cannot; structured mode can carry it): "
            ),
            "{}",
            undeliverable.reason
        );
        assert_eq!(forwarder.metrics().dead_lettered(), 1);
        assert_eq!(forwarder.metrics().retried(), 0);
    }
}
