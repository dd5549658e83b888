//! Feeding a tally from NATS: the recent past from JetStream first, then live.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use lifecycle_core::{LifecycleSubject, is_lifecycle_subject};
use lifecycle_nats::{
    CatchUp, Connection, Error, ErrorKind, Interest, ReceiveError, Recurring, ReplayFrom,
};
use tracing::{debug, info, warn};

use crate::tally::Tally;

/// How often nodes are expired, at most: a short `max_age` (tests, small labs) is looked at
/// four times per `max_age`, at least once a second.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(30);

/// How often the connection is looked at for a reconnection.
const RECONNECT_CHECK: Duration = Duration::from_millis(100);

/// Why following a subscription stopped.
enum Followed {
    Shutdown,
    /// The connection was lost and made again: the JetStream consumer would take many
    /// seconds to notice, so it is made again at once.
    Reconnected,
}

impl Tally {
    /// Counts events from `connection` until `shutdown` completes.
    ///
    /// When the server keeps `CHORIA_EVENTS`, the tally's snapshot is loaded
    /// ([`TallyOptions::snapshot`](crate::TallyOptions::snapshot)) and the stream replayed
    /// after it, or without one the last `max_age` of the stream is replayed; the tally
    /// reports ready ([`Tally::is_ready`]) once it has caught up, so its counts are right at
    /// the first scrape after a restart. After the connection was lost and made
    /// again, or called again on the same tally (after an error), it goes on after the last
    /// event it counted from the stream rather than replay again, and is not ready until it
    /// has caught up. Without JetStream it says so once and counts live. Messages that are
    /// not events are counted as process errors and logged.
    pub async fn ingest(
        &self,
        connection: &Connection,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), crate::Error> {
        self.health.connected_with(connection.client().clone());
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            match self.follow(connection, &mut shutdown).await? {
                Followed::Shutdown => return Ok(()),
                Followed::Reconnected => {
                    info!("reconnected to NATS: going on after the last event counted");
                }
            }
        }
    }

    /// Subscribes and counts until `shutdown` completes or the connection is made again.
    async fn follow(
        &self,
        connection: &Connection,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Followed, Error> {
        let connects = || {
            connection
                .client()
                .statistics()
                .connects
                .load(Ordering::Relaxed)
        };
        let connected_as = connects();
        let interest = Interest {
            components: self.options().components.iter().cloned().collect(),
            ..Interest::default().with_machine_events()
        };
        if self.last_sequence.load(Ordering::Relaxed) == 0 {
            // A first start: from the snapshot when there is one to trust.
            if let Some(sequence) = self.load_snapshot(connection).await {
                self.last_sequence.fetch_max(sequence, Ordering::Relaxed);
            }
        }
        let from = match self.last_sequence.load(Ordering::Relaxed) {
            0 => ReplayFrom::Time(SystemTime::now() - self.options().max_age),
            last => ReplayFrom::Sequence(last.saturating_add(1)),
        };
        let (mut events, backlog) = match connection.replay(&interest, from).await {
            Ok(replay) => {
                let backlog = replay.backlog().unwrap_or(0);
                info!(backlog, max_age = ?self.options().max_age, "warm start: replaying recent events from JetStream");
                (replay, backlog)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::JetStreamUnavailable | ErrorKind::StreamNotFound(_)
                ) =>
            {
                warn!(
                    "{}: counting live events only, so counts fill in as nodes report",
                    lifecycle_core::ErrorChain(&e)
                );
                (connection.subscribe(&interest).await?, 0)
            }
            Err(e) => return Err(e),
        };
        // Ready must mean the server knows the subscription: nothing sent after is missed.
        connection.client().flush().await.map_err(Error::flush)?;
        self.health.replay_started(backlog);
        let mut catch_up = CatchUp::new(Some(backlog));
        self.set_ready(catch_up.is_caught_up());
        let mut stream_errors =
            Recurring::new("the JetStream consumer failed, it recovers by itself where it can");
        let every = (self.options().max_age / 4).clamp(Duration::from_secs(1), EXPIRY_INTERVAL);
        let mut expiry = tokio::time::interval(every);
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reconnects = tokio::time::interval(RECONNECT_CHECK);
        reconnects.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let item = tokio::select! {
                () = &mut *shutdown => return Ok(Followed::Shutdown),
                _ = reconnects.tick() => {
                    if connects() != connected_as {
                        return Ok(Followed::Reconnected);
                    }
                    continue;
                }
                _ = expiry.tick() => {
                    let expired = self.expire();
                    if expired > 0 {
                        debug!(expired, "expired nodes not seen for max_age");
                    }
                    continue;
                }
                item = events.next() => item,
            };
            // While the backlog lasts, every lifecycle message (valid or not) is a replayed one:
            // with what is pending after it.
            let replayed = match item {
                None => return Err(Error::new(ErrorKind::SubscriptionEnded)),
                Some(Ok(received)) => {
                    // Liveness is judged by when the broker received it: when the stream
                    // stored it, or now for a live one (the clock read as it arrives: a
                    // reading kept from a tick would make a fresh event look old).
                    let at = received.stored.unwrap_or_else(|| (self.options().clock)());
                    self.observe_received(received.parsed.event(), at);
                    if let Some(sequence) = received.stream_sequence {
                        self.last_sequence.fetch_max(sequence, Ordering::Relaxed);
                    }
                    is_lifecycle_subject(&received.subject).then_some(received.pending)
                }
                Some(Err(ReceiveError::Invalid(invalid))) => {
                    let component =
                        LifecycleSubject::parse(&invalid.subject).map_or("", |s| s.component());
                    self.metrics().process_error(component);
                    let replayed =
                        is_lifecycle_subject(&invalid.subject).then_some(invalid.pending);
                    debug!("{}", ReceiveError::Invalid(invalid));
                    replayed
                }
                Some(Err(e)) => {
                    stream_errors.record(lifecycle_core::ErrorChain(&e));
                    None
                }
            };
            if let Some(pending) = replayed
                && !catch_up.is_caught_up()
            {
                self.health.replayed_one();
                if catch_up.record(pending) {
                    info!("warm start done: counts are current");
                    self.set_ready(true);
                }
            }
        }
    }
}
