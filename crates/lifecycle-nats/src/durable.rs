//! A durable JetStream consumer: events that are acknowledged one by one, after they were
//! handled, so a consumer that stops (or whose downstream is down) misses nothing.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::{Client, Subject};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use lifecycle_core::AnyEvent;
use tracing::{info, warn};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind};
use crate::streams::EVENTS_STREAM;
use crate::subscribe::{Interest, Position, ReceiveError, Received, receive};

/// How long the server waits for an acknowledgement before it delivers an event again,
/// unless told otherwise.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// An event from a [`Durable`] consumer, to be acknowledged once handled.
pub struct Delivery {
    /// The event as received.
    pub received: Received,
    /// How many times the server delivered it (1 the first time).
    pub delivered: u64,
    /// The `$JS.ACK.` subject that settles this delivery.
    reply: Subject,
    client: Client,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("received", &self.received)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// The event.
    pub fn event(&self) -> &AnyEvent {
        self.received.parsed.event()
    }

    /// Acknowledges it and waits for the server to confirm, so it is not delivered again.
    ///
    /// The confirmation comes back on the client's shared request inbox: many
    /// acknowledgements may be in flight at once, and none subscribes and unsubscribes an
    /// inbox of its own (as async-nats' `double_ack` does, three protocol operations per
    /// event).
    pub async fn ack(self) -> Result<(), Error> {
        self.client
            .request(self.reply, AckKind::Ack.into())
            .await
            .map(drop)
            .map_err(Error::jetstream)
    }

    /// Hands it back: the server delivers it again, after `delay` when given.
    pub async fn nak(self, delay: Option<Duration>) -> Result<(), Error> {
        self.settle(AckKind::Nak(delay)).await
    }

    /// Tells the server it is still being worked on, restarting its acknowledgement timer.
    pub async fn in_progress(&self) -> Result<(), Error> {
        self.settle(AckKind::Progress).await
    }

    /// Tells the server never to deliver it again, though it was not handled.
    pub async fn term(self) -> Result<(), Error> {
        self.settle(AckKind::Term).await
    }

    /// Tells the server `kind`, without waiting for its answer.
    async fn settle(&self, kind: AckKind) -> Result<(), Error> {
        self.client
            .publish(self.reply.clone(), kind.into())
            .await
            .map_err(Error::jetstream)
    }
}

/// A durable consumer's events, in stream order, with at most a set number unacknowledged
/// at a time: the server sends no more until some are settled ([`Delivery::ack`],
/// [`Delivery::nak`], ...). With one at a time ([`Connection::durable`]) each must be settled
/// before the next arrives, which keeps them in order (overall, and so per identity)
/// including across redeliveries; with more ([`Connection::durable_with`]) the consumer keeps
/// the order it needs itself.
///
/// Messages that are not events are terminated (so they cannot block the consumer) and
/// come out as [`ReceiveError::Invalid`].
pub struct Durable {
    inner: BoxStream<'static, Result<Delivery, ReceiveError>>,
    name: String,
}

impl fmt::Debug for Durable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Durable")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Durable {
    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Stream for Durable {
    type Item = Result<Delivery, ReceiveError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl Connection {
    /// Consumes the lifecycle events `interest` names from [`EVENTS_STREAM`] with the
    /// durable consumer `name`, created when missing (starting with events stored from
    /// then on) and updated to `interest` and `ack_wait` when it exists. The server keeps
    /// its position: a consumer started again under the same name goes on where the last
    /// one stopped, with any unacknowledged event delivered again after `ack_wait`.
    ///
    /// One event at a time is unacknowledged: the next comes once this one is settled.
    ///
    /// The stream holds no machine events, so `interest`'s machine subjects are ignored.
    pub async fn durable(
        &self,
        name: &str,
        interest: &Interest,
        ack_wait: Duration,
    ) -> Result<Durable, Error> {
        self.durable_with(name, interest, ack_wait, 1).await
    }

    /// The same as [`Connection::durable`], with up to `in_flight` events delivered and not
    /// yet acknowledged at once (the consumer's `max_ack_pending`; at least 1).
    ///
    /// When the consumer still has events delivered and not acknowledged (a process using it
    /// stopped, or another still runs), what comes is held until they have come back (at
    /// most twice `ack_wait`), then let out in stream order: a node's events keep their order
    /// across a restart, whatever order the server delivers them again in.
    pub async fn durable_with(
        &self,
        name: &str,
        interest: &Interest,
        ack_wait: Duration,
        in_flight: u32,
    ) -> Result<Durable, Error> {
        // The name is a token of JetStream's API subjects, and nats-server also makes it a
        // directory name: no slashes either.
        lifecycle_core::check_subject_token("durable consumer name", name).map_err(Error::from)?;
        if name.contains(['/', '\\']) {
            return Err(Error::new(ErrorKind::InvalidSubject(format!(
                "invalid durable consumer name '{}': it cannot hold '/' or '\\'",
                lifecycle_core::terminal::TerminalSafe(name)
            ))));
        }
        if !interest.machine_subjects().is_empty() {
            warn!(
                consumer = name,
                "machine events are not kept in {EVENTS_STREAM}; a durable consumer receives lifecycle events only"
            );
        }
        let stream = self.existing_stream(EVENTS_STREAM).await?;
        let mut filters = interest.lifecycle_subjects()?;
        let mut config = PullConfig {
            durable_name: Some(name.to_owned()),
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            ack_wait,
            max_ack_pending: i64::from(in_flight.max(1)),
            ..Default::default()
        };
        if filters.len() == 1 {
            config.filter_subject = filters.remove(0);
        } else {
            config.filter_subjects = filters;
        }
        let consumer = stream
            .create_consumer(config)
            .await
            .map_err(Error::jetstream)?;
        let pending = consumer.cached_info().num_pending;
        let unacknowledged = consumer.cached_info().num_ack_pending;
        info!(
            consumer = name,
            pending, unacknowledged, in_flight, "durable consumer ready"
        );
        let client = self.client.clone();
        let inner = consumer
            .messages()
            .await
            .map_err(Error::jetstream)?
            .then(move |message| {
                let client = client.clone();
                async move {
                    let message =
                        message.map_err(|e| ReceiveError::Stream(Box::new(Error::jetstream(e))))?;
                    let info = message.info().ok();
                    let position = info.as_ref().map(Position::of);
                    let delivered = info.map_or(1, |info| info.delivered.max(1) as u64);
                    let message = message.message;
                    let Some(reply) = message.reply else {
                        return Err(ReceiveError::Stream(Box::new(Error::jetstream(
                            "a message of the consumer has no reply subject to acknowledge it on",
                        ))));
                    };
                    match receive(message.subject, message.payload, position) {
                        Ok(received) => Ok(Delivery {
                            received,
                            delivered,
                            reply,
                            client,
                        }),
                        Err(invalid) => {
                            if let Err(e) = client.publish(reply, AckKind::Term.into()).await {
                                warn!(error = %e, "cannot terminate an invalid message");
                            }
                            Err(invalid)
                        }
                    }
                }
            })
            .boxed();
        // With one in flight the server itself holds everything back until the one left
        // unacknowledged comes back.
        let inner = if in_flight > 1 && unacknowledged > 0 {
            info!(
                consumer = name,
                unacknowledged,
                wait = ?ack_wait,
                "events delivered before are still unacknowledged: waiting for them to come back first, to keep their order"
            );
            in_stream_order(inner, unacknowledged as u64, ack_wait)
        } else {
            inner
        };
        Ok(Durable {
            inner,
            name: name.to_owned(),
        })
    }
}

type Deliveries = BoxStream<'static, Result<Delivery, ReceiveError>>;

/// Puts the events an earlier process left unacknowledged back in stream order.
///
/// The server delivers each again once its acknowledgement wait lapses, in the order the
/// waits lapse, which is not the stream's (a handler's progress reports extend its wait):
/// handled as they came, a node's older event could run after a newer one. So the first
/// deliveries are held, their waits renewed, until the `expected` ones delivered before have
/// all come back, or twice the wait has passed (another process may have settled some), and
/// then let out in stream order, with any new ones that came meanwhile after them.
fn in_stream_order(inner: Deliveries, expected: u64, ack_wait: Duration) -> Deliveries {
    struct Holding {
        inner: Deliveries,
        expected: u64,
        held: Vec<Delivery>,
        out: VecDeque<Delivery>,
        holding: bool,
        ended: bool,
        deadline: tokio::time::Instant,
        renew: tokio::time::Interval,
    }
    impl Holding {
        fn release(&mut self) {
            self.held.sort_by_key(|d| d.received.stream_sequence);
            self.out.extend(self.held.drain(..));
            self.holding = false;
        }
    }
    let every = (ack_wait / 3).max(Duration::from_millis(10));
    let state = Holding {
        inner,
        expected,
        held: Vec::new(),
        out: VecDeque::new(),
        holding: true,
        ended: false,
        deadline: tokio::time::Instant::now() + ack_wait * 2 + Duration::from_secs(1),
        renew: tokio::time::interval_at(tokio::time::Instant::now() + every, every),
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(delivery) = s.out.pop_front() {
                return Some((Ok(delivery), s));
            }
            if s.ended {
                return None;
            }
            if !s.holding {
                let item = s.inner.next().await?;
                return Some((item, s));
            }
            tokio::select! {
                item = s.inner.next() => match item {
                    None => {
                        s.ended = true;
                        s.release();
                    }
                    Some(Err(invalid)) => return Some((Err(invalid), s)),
                    Some(Ok(delivery)) => {
                        if delivery.delivered > 1 {
                            s.expected = s.expected.saturating_sub(1);
                        }
                        s.held.push(delivery);
                        if s.expected == 0 {
                            s.release();
                        }
                    }
                },
                () = tokio::time::sleep_until(s.deadline) => {
                    warn!(
                        missing = s.expected,
                        "not every event delivered before came back: going on (another process may have settled them)"
                    );
                    s.release();
                }
                _ = s.renew.tick() => {
                    for delivery in &s.held {
                        if let Err(error) = delivery.in_progress().await {
                            warn!(
                                error = %lifecycle_core::ErrorChain(&error),
                                "cannot renew the wait of an event held back"
                            );
                        }
                    }
                }
            }
        }
    })
    .boxed()
}
