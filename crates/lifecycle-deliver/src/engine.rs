//! The engine: events from a durable consumer (or a live subscription) to a handler, each
//! acknowledged once it succeeded or was dead-lettered.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, Stream, StreamExt};
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_core::{Filter, KeyBy};
use lifecycle_nats::{
    Connection, DeadLetter, DeadLetters, Error, Interest, Kept, ReceiveError, Received, Recurring,
};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::backoff::Backoff;
use crate::dedupe::Dedupe;
use crate::failure::Failure;
use crate::handler::Handler;
use crate::message::Message;
use crate::metrics::RuleMetrics;
use crate::schedule::{Queued, Schedule};

/// The most events a stopped live run counts as received and not taken: reading them
/// stops there even if a publisher keeps them coming.
const MAX_UNREAD: usize = 1 << 20;

/// How long running handlers have to finish once shutdown is asked, unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// How an [`Engine`] delivers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its name, in logs, metrics and dead letters: a rule's name, `forward`.
    pub name: String,
    /// Events it does not pass are acknowledged at once and never handled. Its types and
    /// components also narrow what the server sends.
    pub filter: Filter,
    /// Events with the same key are handled one at a time, in stream order; `None`: every
    /// event may run alongside any other.
    pub key: Option<KeyBy>,
    /// Handlers running at once (at least 1). With 1, events are handled one at a time in
    /// stream order. A handler's place is taken until the server confirmed its event's
    /// acknowledgement: after a crash, at most this many events can be handled twice.
    pub concurrency: usize,
    /// Events held at once, delivered and not yet acknowledged (the durable consumer's
    /// `max_ack_pending`): those running, and those waiting for their key or a free
    /// handler. Bounds memory; at least `concurrency`.
    pub in_flight: usize,
    /// Retries of transient failures, and how many attempts in all.
    pub backoff: Backoff,
    /// Where dead-lettered events are published as they arrived, with headers saying why;
    /// without, they are logged and counted only.
    pub dead_letters: Option<DeadLetters>,
    /// Acts at most once per key within this window: a later event of a key handled
    /// successfully less than this ago is acknowledged without acting. Remembered in this
    /// process only, for at most [`crate::MAX_REMEMBERED`] keys.
    pub dedupe: Option<Duration>,
    /// How long running handlers have to finish once shutdown is asked.
    pub grace: Duration,
}

impl Settings {
    /// Every event, keyed by identity, one handler at a time, retried without limit, no
    /// dead-letter subject, no dedupe.
    pub fn new(name: impl Into<String>) -> Settings {
        Settings {
            name: name.into(),
            filter: Filter::default(),
            key: Some(KeyBy::Identity),
            concurrency: 1,
            in_flight: default_in_flight(1),
            backoff: Backoff::default(),
            dead_letters: None,
            dedupe: None,
            grace: DEFAULT_GRACE,
        }
    }

    /// Up to `concurrency` handlers at once, holding [`default_in_flight`] events.
    pub fn with_concurrency(mut self, concurrency: usize) -> Settings {
        self.concurrency = concurrency;
        self.in_flight = default_in_flight(concurrency);
        self
    }
}

/// Events held at once for `concurrency` handlers, unless told otherwise: four per handler,
/// so that a free handler rarely waits for the server; one for one handler, which keeps
/// every event in stream order even across a crash, as the server then holds the rest back
/// until the one in flight is settled or comes back.
pub fn default_in_flight(concurrency: usize) -> usize {
    if concurrency <= 1 {
        1
    } else {
        concurrency.saturating_mul(4)
    }
}

/// Why [`Engine::run_durable`] or [`Engine::run_live`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The shutdown future completed.
    Shutdown,
    /// The events stopped coming (the subscription ended) and all held were settled.
    SourceEnded,
}

/// Hands events to a [`Handler`]: at least once, in order per key ([`KeyBy`]), up to
/// [`Settings::concurrency`] at once, retrying transient failures with [`Backoff`] and
/// dead-lettering the rest, counting in [`RuleMetrics`].
#[derive(Debug)]
pub struct Engine<H> {
    handler: Arc<H>,
    settings: Arc<Settings>,
    metrics: RuleMetrics,
}

/// What an event's handling needs, shared by the tasks of one run.
struct Ctx<H> {
    handler: Arc<H>,
    settings: Arc<Settings>,
    metrics: RuleMetrics,
    consumer: Option<String>,
    keepalive: Option<Duration>,
    /// Dead letters no stream kept, told once per interval.
    lost_letters: std::sync::Mutex<Recurring>,
}

/// An event given up on.
struct Undeliverable {
    reason: String,
    attempts: u32,
}

/// A handling that ended, its event settled.
struct Done {
    key: Option<String>,
    sequence: Option<u64>,
    succeeded: bool,
}

/// What an acknowledgement releases in the [`Schedule`] once the server confirmed it: the
/// event's key and sequence (none for an event that was never scheduled).
struct Release {
    key: Option<String>,
    sequence: Option<u64>,
}

/// Acknowledgements of events that were not handled (the filter dropped them, or the
/// dedupe window), sent and not yet confirmed.
type Acks = FuturesUnordered<BoxFuture<'static, Release>>;

/// Acknowledges `message` without waiting for the server, so that the loop goes on with
/// other events meanwhile: `release` happens in `schedule` once the server confirmed.
fn acknowledge(acks: &mut Acks, message: Message, release: Release) {
    acks.push(message.ack().map(|()| release).boxed());
}

impl<H: Handler> Engine<H> {
    /// An engine handing events to `handler` as `settings` say, with its own metrics.
    pub fn new(handler: H, settings: Settings) -> Engine<H> {
        Engine {
            handler: Arc::new(handler),
            settings: Arc::new(settings),
            metrics: RuleMetrics::default(),
        }
    }

    /// Counts in `metrics` instead (one rule's of a [`crate::Metrics`]).
    pub fn with_metrics(mut self, metrics: RuleMetrics) -> Engine<H> {
        self.metrics = metrics;
        self
    }

    /// Its metrics.
    pub fn metrics(&self) -> &RuleMetrics {
        &self.metrics
    }

    /// Its handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Consumes `CHORIA_EVENTS` with the durable consumer `consumer` (created when missing,
    /// starting with the events stored from then on; updated to this filter and window
    /// when it exists) until `shutdown` completes. An event is acknowledged once handled
    /// or dead-lettered; one not acknowledged within `ack_wait` is delivered again, so the
    /// engine renews the wait for every event it holds. On shutdown, running handlers have
    /// [`Settings::grace`] to finish; the events not settled by then are left
    /// unacknowledged and come back (to this consumer, in any process) after `ack_wait`.
    ///
    /// Several processes running the same consumer share its events: each goes to one of
    /// them. Per-key order holds within a process; across processes, two events of one key
    /// may be handled at the same time by different processes.
    pub async fn run_durable(
        &self,
        connection: &Connection,
        consumer: &str,
        ack_wait: Duration,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Stopped, Error> {
        let interest = Interest::from_filter(&self.settings.filter);
        let in_flight = self.in_flight();
        let durable = connection
            .durable_with(
                consumer,
                &interest,
                ack_wait,
                u32::try_from(in_flight).unwrap_or(u32::MAX),
            )
            .await?;
        // Renewed three times per wait: one late renewal is not yet a redelivery.
        let keepalive = (ack_wait / 3).max(Duration::from_millis(10));
        let source = durable.map(|delivery| delivery.map(|d| Message::Durable(Box::new(d))));
        Ok(self
            .run(source, Some(consumer), Some(keepalive), shutdown)
            .await)
    }

    /// Receives the events of the filter live until `shutdown` completes: nothing to
    /// acknowledge, nothing delivered again; events that arrive while the engine is not
    /// running, or faster than it keeps up with (see [`RuleMetrics::dropped`]), are missed.
    /// On shutdown, running handlers have [`Settings::grace`] to finish; the events not
    /// delivered by then are dropped: counted in [`RuleMetrics::dropped`] and logged.
    pub async fn run_live(
        &self,
        connection: &Connection,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Stopped, Error> {
        let interest = Interest::from_filter(&self.settings.filter);
        let events = connection.subscribe(&interest).await?;
        connection.client().flush().await.map_err(Error::flush)?;
        info!(rule = %self.settings.name, subjects = ?interest.subjects()?, "receiving events");
        let source = events.map(|received| received.map(|r| Message::Live(Box::new(r))));
        Ok(self.run(source, None, None, shutdown).await)
    }

    fn in_flight(&self) -> usize {
        let concurrency = self.settings.concurrency.max(1);
        self.settings.in_flight.max(concurrency)
    }

    async fn run<S>(
        &self,
        source: S,
        consumer: Option<&str>,
        keepalive: Option<Duration>,
        shutdown: impl Future<Output = ()>,
    ) -> Stopped
    where
        S: Stream<Item = Result<Message, ReceiveError>>,
    {
        let settings = &self.settings;
        let ctx = Arc::new(Ctx {
            handler: self.handler.clone(),
            settings: settings.clone(),
            metrics: self.metrics.clone(),
            consumer: consumer.map(str::to_owned),
            keepalive,
            lost_letters: std::sync::Mutex::new(Recurring::new(
                "dead letters lost: no stream stores their subject (`lifecycle streams create` \
                 makes LIFECYCLE_DEAD_LETTERS for lifecycle.dead.>)",
            )),
        });
        // A durable consumer delivers again what was not acknowledged; a live subscription
        // delivers each event once.
        let durable = consumer.is_some();
        let concurrency = settings.concurrency.max(1);
        let in_flight = self.in_flight();
        let mut source = pin!(source);
        let mut shutdown = pin!(shutdown);
        let mut schedule = Schedule::default();
        let mut running: JoinSet<Done> = JoinSet::new();
        let mut acks = Acks::new();
        let mut dedupe = settings.dedupe.map(Dedupe::new);
        let mut invalid = Recurring::new("invalid messages skipped");
        let mut stream_errors = Recurring::new("the event source failed");
        let mut renew = keepalive.map(|every| {
            let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            renew
        });
        let mut source_ended = false;
        info!(
            rule = %settings.name,
            consumer,
            concurrency,
            in_flight,
            key = settings.key.map_or("none", KeyBy::as_str),
            "handling events"
        );
        let stopped = loop {
            while running.len() < concurrency {
                let Some(queued) = schedule.pop_ready() else {
                    break;
                };
                if let (Some(dedupe), Some(key)) = (&mut dedupe, &queued.key) {
                    if dedupe.seen(key, Instant::now()) {
                        self.metrics.counters.deduplicated.inc();
                        let event = queued.message.received().parsed.event();
                        info!(rule = %settings.name, id = %TerminalSafe(event.id()), key = %TerminalSafe(key), "acted on this key within the dedupe window: skipped");
                        let Queued { key, message, .. } = queued;
                        let sequence = message.sequence();
                        acknowledge(&mut acks, message, Release { key, sequence });
                        continue;
                    }
                }
                running.spawn(handle(ctx.clone(), queued));
            }
            if source_ended && schedule.len() == 0 && running.is_empty() && acks.is_empty() {
                break Stopped::SourceEnded;
            }
            let room = schedule.len() + running.len() + acks.len() < in_flight;
            tokio::select! {
                () = &mut shutdown => break Stopped::Shutdown,
                Some(done) = running.join_next(), if !running.is_empty() => {
                    // A task only ends early if it panicked outside the handler, which
                    // `handle` does not; its event then comes back after the ack wait.
                    if let Ok(done) = done {
                        if let (true, Some(dedupe), Some(key)) = (done.succeeded, &mut dedupe, &done.key) {
                            dedupe.acted(key, Instant::now());
                        }
                        schedule.finished(done.key.as_deref(), done.sequence);
                    }
                }
                Some(release) = acks.next(), if !acks.is_empty() => {
                    schedule.finished(release.key.as_deref(), release.sequence);
                }
                next = source.next(), if room && !source_ended => match next {
                    None => source_ended = true,
                    Some(Err(ReceiveError::Invalid(invalid_message))) => {
                        self.metrics.counters.invalid.inc();
                        invalid.record(ReceiveError::Invalid(invalid_message));
                    }
                    Some(Err(failure)) => {
                        stream_errors.record(lifecycle_core::ErrorChain(&failure))
                    }
                    Some(Ok(message)) => self.take(&mut acks, &mut schedule, message),
                },
                _ = async { renew.as_mut()?.tick().await; Some(()) }, if renew.is_some() => {
                    for message in schedule.held() {
                        message.in_progress().await;
                    }
                }
            }
        };
        invalid.flush();
        stream_errors.flush();
        // Handlers stopped before their event was settled.
        let mut cut_short = 0;
        if stopped == Stopped::Shutdown && !(running.is_empty() && acks.is_empty()) {
            info!(rule = %settings.name, running = running.len(), grace = ?settings.grace, "stopping: waiting for running handlers");
            let finished = tokio::time::timeout(settings.grace, async {
                tokio::join!(
                    async { while running.join_next().await.is_some() {} },
                    async { while acks.next().await.is_some() {} },
                )
            })
            .await;
            if finished.is_err() {
                running.abort_all();
                while let Some(done) = running.join_next().await {
                    // One that ended between the timeout and the abort settled its event.
                    if done.is_err() {
                        cut_short += 1;
                    }
                }
                if durable && cut_short > 0 {
                    warn!(rule = %settings.name, running = cut_short, "handlers still running after the grace period: stopped; their events will be delivered again");
                }
            }
        }
        // Held and not settled: a durable consumer delivers them again after the ack wait; a
        // live subscription never does, so they are lost, and said to be, with those it
        // received and the engine had not taken yet.
        let mut unsettled = schedule.len() + cut_short;
        if !durable {
            unsettled += self.unread(source.as_mut());
        }
        let metrics = &self.metrics;
        if !durable && unsettled > 0 {
            metrics.count_dropped(unsettled as u64);
            warn!(
                rule = %settings.name,
                dropped = unsettled,
                "stopped with {unsettled} events not delivered: dropped (a live subscription does not redeliver)"
            );
        }
        info!(
            rule = %settings.name,
            matched = metrics.matched(),
            succeeded = metrics.succeeded(),
            retried = metrics.retried(),
            dead_lettered = metrics.dead_lettered(),
            left_unacknowledged = if durable { unsettled } else { 0 },
            dropped = if durable { 0 } else { unsettled },
            ?stopped,
            "stopped"
        );
        stopped
    }

    /// How many events the filter passes a live source holds already, received and not
    /// taken: those a stopped live run drops with the subscription. Reads what is there
    /// without waiting, at most [`MAX_UNREAD`].
    fn unread<S>(&self, mut source: std::pin::Pin<&mut S>) -> usize
    where
        S: Stream<Item = Result<Message, ReceiveError>>,
    {
        let mut unread = 0;
        for _ in 0..MAX_UNREAD {
            match source.next().now_or_never() {
                Some(Some(Ok(message))) => {
                    if self
                        .settings
                        .filter
                        .matches(message.received().parsed.event())
                    {
                        unread += 1;
                    }
                }
                Some(Some(Err(_))) => {}
                Some(None) | None => break,
            }
        }
        unread
    }

    /// An event from the source: acknowledged at once if the filter does not pass it,
    /// else queued behind its key.
    fn take(&self, acks: &mut Acks, schedule: &mut Schedule, message: Message) {
        let event = message.received().parsed.event();
        if !self.settings.filter.matches(event) {
            let release = Release {
                key: None,
                sequence: None,
            };
            acknowledge(acks, message, release);
            return;
        }
        let key = self.settings.key.map(|key| key.of(event));
        match schedule.push(key, message) {
            Ok(()) => _ = self.metrics.counters.matched.inc(),
            Err(again) => {
                // Its wait lapsed before a renewal arrived; the copy held here settles it.
                debug!(sequence = ?again.sequence(), "delivered again while still held: ignored");
            }
        }
    }
}

/// Handles one event to its end, keeping it alive with the server meanwhile, then settles
/// it: its handler's place is taken until the server confirmed the acknowledgement, so
/// that at most [`Settings::concurrency`] events have been acted on and not yet
/// acknowledged (those a crash may run twice). Acknowledgements of several events are in
/// flight at once, one per place.
async fn handle<H: Handler>(ctx: Arc<Ctx<H>>, queued: Queued) -> Done {
    let Queued { key, message, .. } = queued;
    let sequence = message.sequence();
    let outcome = {
        let mut work = pin!(ctx.work(message.received(), message.delivered()));
        match ctx.keepalive {
            None => work.await,
            Some(every) => {
                let start = tokio::time::Instant::now() + every;
                let mut renew = tokio::time::interval_at(start, every);
                loop {
                    tokio::select! {
                        outcome = &mut work => break outcome,
                        _ = renew.tick() => message.in_progress().await,
                    }
                }
            }
        }
    };
    let succeeded = match outcome {
        Ok(()) => true,
        Err(undeliverable) => {
            ctx.dead_letter(message.received(), undeliverable).await;
            false
        }
    };
    message.ack().await;
    Done {
        key,
        sequence,
        succeeded,
    }
}

impl<H: Handler> Ctx<H> {
    /// Prepares the action once and attempts it until it succeeds, fails permanently or is
    /// out of attempts, waiting between attempts as the backoff says. Attempts count on
    /// from the server's deliveries: an event delivered again (its handler killed, say)
    /// starts at its delivery count, so that `LIFECYCLE_ATTEMPT` and `max_attempts` count
    /// every try.
    async fn work(&self, received: &Received, delivered: u32) -> Result<(), Undeliverable> {
        let event = received.parsed.event();
        let backoff = self.settings.backoff;
        let mut action: Option<H::Action> = None;
        let mut attempts = delivered.saturating_sub(1);
        let failure = loop {
            attempts = attempts.saturating_add(1);
            let result = match &action {
                Some(prepared) => self.attempt(prepared, attempts).await,
                None => match self.prepare(received) {
                    Ok(prepared) => {
                        let result = self.attempt(&prepared, attempts).await;
                        action = Some(prepared);
                        result
                    }
                    Err(failure) => Err(failure),
                },
            };
            let failure = match result {
                Ok(()) => {
                    self.metrics.counters.succeeded.inc();
                    debug!(rule = %self.settings.name, id = %TerminalSafe(event.id()), attempts, "handled");
                    return Ok(());
                }
                Err(failure) => failure,
            };
            self.metrics.counters.failed.inc();
            if !failure.is_transient() || backoff.exhausted(attempts) {
                break failure;
            }
            self.metrics.counters.retried.inc();
            let delay = backoff.delay(attempts);
            warn!(
                rule = %self.settings.name,
                id = %TerminalSafe(event.id()),
                attempts,
                retry_in = ?delay,
                error = %TerminalSafe(&failure),
                "action failed, retrying"
            );
            tokio::time::sleep(delay).await;
        };
        self.metrics.counters.dead_lettered.inc();
        // The id and identity came from the network: their control characters are escaped.
        error!(
            rule = %self.settings.name,
            id = %TerminalSafe(event.id()),
            identity = %TerminalSafe(event.identity()),
            attempts,
            reason = %TerminalSafe(&failure),
            "dead-lettering the event: {}",
            if failure.is_transient() {
                "still failing after the last attempt"
            } else {
                "it can never be handled"
            }
        );
        Err(Undeliverable {
            reason: failure.reason().to_owned(),
            attempts,
        })
    }

    /// The handler's preparation; a panic in it is a permanent failure.
    fn prepare(&self, received: &Received) -> Result<H::Action, Failure> {
        std::panic::catch_unwind(AssertUnwindSafe(|| self.handler.prepare(received)))
            .unwrap_or_else(|_| Err(Failure::permanent("the handler panicked preparing it")))
    }

    /// One attempt, counted as running while it runs; a panic in it is a permanent failure.
    async fn attempt(&self, action: &H::Action, attempt: u32) -> Result<(), Failure> {
        let _running = self.metrics.attempt();
        AssertUnwindSafe(self.handler.attempt(action, attempt))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(Failure::permanent("the handler panicked")))
    }

    /// Publishes the event to the dead-letter subject, if there is one.
    async fn dead_letter(&self, received: &Received, undeliverable: Undeliverable) {
        let Some(letters) = &self.settings.dead_letters else {
            return;
        };
        let letter = DeadLetter {
            reason: undeliverable.reason,
            attempts: undeliverable.attempts,
            consumer: self.consumer.clone(),
            handler: self.handler.describe(),
        };
        let id = received.parsed.event().id();
        match letters.publish(received, &letter).await {
            Ok(Kept::InStream) => {
                debug!(id = %TerminalSafe(id), subject = letters.subject(), "dead letter kept")
            }
            Ok(Kept::Nowhere) => {
                self.metrics.counters.dead_letters_lost.inc();
                let mut lost = self
                    .lost_letters
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                lost.record(format_args!(
                    "{} on {}",
                    TerminalSafe(id),
                    letters.subject()
                ));
            }
            Err(error) => {
                self.metrics.counters.dead_letters_lost.inc();
                warn!(
                    id = %TerminalSafe(id),
                    subject = letters.subject(),
                    error = %lifecycle_core::ErrorChain(&error),
                    "cannot publish the dead letter: it is lost"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::{mpsc, oneshot};

    use super::*;

    /// Records the identity of each event as its handler starts.
    #[derive(Clone, Default)]
    struct Starts(Arc<Mutex<Vec<String>>>);

    impl Starts {
        fn get(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }

        async fn wait_for(&self, count: usize) -> Vec<String> {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.get().len() < count {
                assert!(Instant::now() < deadline, "{:?}", self.get());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.get()
        }
    }

    impl Handler for Starts {
        type Action = String;

        fn prepare(&self, event: &Received) -> Result<String, Failure> {
            Ok(event.parsed.event().identity().to_owned())
        }

        async fn attempt(&self, identity: &String, _attempt: u32) -> Result<(), Failure> {
            self.0.lock().unwrap().push(identity.clone());
            Ok(())
        }

        fn describe(&self) -> String {
            "starts".into()
        }
    }

    /// A durable event of `identity` at `sequence`, and what confirms its acknowledgement.
    fn durable(identity: &str, sequence: u64) -> (Message, oneshot::Sender<()>) {
        let mut received =
            lifecycle_testsupport::received(&lifecycle_testsupport::alive(identity, "1"));
        received.stream_sequence = Some(sequence);
        let (confirm, confirmed) = oneshot::channel();
        (Message::Confirmed(Box::new(received), confirmed), confirm)
    }

    /// An engine with `concurrency` handlers on a source this test feeds, handling the
    /// events `filter` passes.
    fn start(
        concurrency: usize,
        filter: &str,
    ) -> (
        Starts,
        mpsc::UnboundedSender<Result<Message, ReceiveError>>,
        tokio::task::JoinHandle<Stopped>,
    ) {
        let starts = Starts::default();
        let mut settings = Settings::new("test");
        settings.concurrency = concurrency;
        settings.in_flight = 16;
        settings.filter = Filter::parse(filter).unwrap();
        let engine = Engine::new(starts.clone(), settings);
        let (feed, mut source) = mpsc::unbounded_channel();
        let source = futures_util::stream::poll_fn(move |cx| source.poll_recv(cx));
        let running =
            tokio::spawn(
                async move { engine.run(source, None, None, std::future::pending()).await },
            );
        (starts, feed, running)
    }

    /// Feeds `identity`'s event at `sequence`; what confirms its acknowledgement.
    fn feed(
        feed: &mpsc::UnboundedSender<Result<Message, ReceiveError>>,
        identity: &str,
        sequence: u64,
    ) -> oneshot::Sender<()> {
        let (message, confirm) = durable(identity, sequence);
        feed.send(Ok(message)).unwrap();
        confirm
    }

    /// Gives the engine time to start what it would start.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    #[tokio::test]
    async fn a_key_and_a_handler_place_wait_for_the_confirmed_acknowledgement() {
        let (starts, events, running) = start(2, "");
        let a1 = feed(&events, "a", 1);
        let a2 = feed(&events, "a", 2);
        let b1 = feed(&events, "b", 3);
        let mut first = starts.wait_for(2).await;
        first.sort();
        assert_eq!(first, ["a", "b"]);
        // Both handlers ended; their acknowledgements are on their way, and hold both
        // places: no more than 2 events acted on and not acknowledged.
        let c1 = feed(&events, "c", 4);
        settle().await;
        assert_eq!(starts.get().len(), 2, "{:?}", starts.get());
        b1.send(()).unwrap();
        assert_eq!(starts.wait_for(3).await[2], "c");
        settle().await;
        assert_eq!(
            starts.get().len(),
            3,
            "a's second event waits for the first's confirmation"
        );
        a1.send(()).unwrap();
        assert_eq!(starts.wait_for(4).await[3], "a");
        drop((a2, c1));
        drop(events);
        assert_eq!(running.await.unwrap(), Stopped::SourceEnded);
    }

    #[tokio::test]
    async fn one_at_a_time_events_run_in_stream_order() {
        let (starts, events, running) = start(1, "");
        let confirms = [("a", 1), ("a", 2), ("b", 3)].map(|(id, seq)| feed(&events, id, seq));
        starts.wait_for(1).await;
        settle().await;
        assert_eq!(starts.get(), ["a"], "the next waits for the confirmation");
        drop(confirms);
        assert_eq!(starts.wait_for(3).await, ["a", "a", "b"], "stream order");
        drop(events);
        assert_eq!(running.await.unwrap(), Stopped::SourceEnded);
    }

    #[tokio::test]
    async fn acknowledging_what_the_filter_drops_holds_nothing_up() {
        let (starts, events, running) = start(1, "identity=node*");
        // Never confirmed while the others run.
        let dropped = feed(&events, "other", 1);
        let handled = [("node1", 2), ("node2", 3)].map(|(id, seq)| feed(&events, id, seq));
        drop(handled);
        assert_eq!(starts.wait_for(2).await, ["node1", "node2"]);
        drop(events);
        settle().await;
        assert!(
            !running.is_finished(),
            "it waits for the last acknowledgement"
        );
        drop(dropped);
        assert_eq!(running.await.unwrap(), Stopped::SourceEnded);
    }
}
