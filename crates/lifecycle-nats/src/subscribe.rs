use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_nats::Subject;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
pub use lifecycle_core::Interest;
use lifecycle_core::{AnyEvent, Filter, Parsed, parse};

use crate::connection::{Connection, Health};
use crate::error::Error;

/// An event received from NATS.
#[derive(Debug, Clone)]
pub struct Received {
    /// The subject it arrived on (shared with the message, not copied).
    pub subject: Subject,
    /// The event, and the format it came in.
    pub parsed: Parsed,
    /// The payload as received.
    pub payload: Bytes,
    /// Its sequence in the JetStream stream, when it was replayed from one.
    pub stream_sequence: Option<u64>,
    /// When replayed: how many stored events the replay still has to deliver after this
    /// one. `Some(0)` means the replay has caught up with the present.
    pub pending: Option<u64>,
    /// When it came from a JetStream stream: when the stream stored it, unix seconds by the
    /// broker's clock (when the broker received it).
    pub stored: Option<i64>,
}

impl Received {
    /// A message as if received live on `subject`: the event it holds, or why it holds
    /// none. For handlers, templates and programs fed events from elsewhere, and their tests.
    pub fn parse(
        subject: impl Into<Subject>,
        payload: impl Into<Bytes>,
    ) -> Result<Received, ReceiveError> {
        receive(subject.into(), payload.into(), None)
    }

    /// `event` as if received live, in Choria's format, on the subject Choria publishes it
    /// to; an error when it has none (no component).
    pub fn of(event: &AnyEvent) -> Result<Received, lifecycle_core::Error> {
        let subject = event.subject()?;
        let payload = event.to_json();
        Ok(Received {
            subject: subject.into(),
            parsed: parse(&payload)?,
            payload: payload.into(),
            stream_sequence: None,
            pending: None,
            stored: None,
        })
    }
}

/// Where a message stands in the JetStream stream it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) sequence: u64,
    /// Messages the consumer still has to deliver after this one.
    pub(crate) pending: u64,
    /// When the stream stored it, unix seconds.
    pub(crate) stored: i64,
}

impl Position {
    pub(crate) fn of(info: &async_nats::jetstream::message::Info<'_>) -> Position {
        Position {
            sequence: info.stream_sequence,
            pending: info.pending,
            stored: info.published.unix_timestamp(),
        }
    }
}

/// Something received that is not an event, or a failure of the stream itself.
#[derive(Debug)]
pub enum ReceiveError {
    /// A message that is not a valid event: it is reported, never dropped in silence.
    Invalid(Box<InvalidMessage>),
    /// The JetStream consumer failed; it recovers by itself where it can.
    Stream(Box<Error>),
}

/// A message that is not a valid event.
#[derive(Debug)]
pub struct InvalidMessage {
    /// The subject it arrived on.
    pub subject: Subject,
    /// The payload as received.
    pub payload: Bytes,
    /// Why it is not an event.
    pub error: lifecycle_core::Error,
    /// When replayed: how many stored messages the replay still has to deliver after this
    /// one, as [`Received::pending`].
    pub pending: Option<u64>,
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveError::Invalid(invalid) => {
                write!(f, "invalid event on {}: {}", invalid.subject, invalid.error)
            }
            ReceiveError::Stream(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReceiveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReceiveError::Invalid(_) => None,
            // The message is the stream error's, so its causes come next.
            ReceiveError::Stream(e) => std::error::Error::source(&**e),
        }
    }
}

/// Parses one message.
pub(crate) fn receive(
    subject: Subject,
    payload: Bytes,
    position: Option<Position>,
) -> Result<Received, ReceiveError> {
    match parse(&payload) {
        Ok(parsed) => Ok(Received {
            subject,
            parsed,
            payload,
            stream_sequence: position.map(|p| p.sequence),
            pending: position.map(|p| p.pending),
            stored: position.map(|p| p.stored),
        }),
        Err(error) => Err(ReceiveError::Invalid(Box::new(InvalidMessage {
            subject,
            payload,
            error,
            pending: position.map(|p| p.pending),
        }))),
    }
}

/// A stream of received events: `Ok` for each event, `Err` for each message that is not one.
pub struct Subscription {
    inner: BoxStream<'static, Result<Received, ReceiveError>>,
    health: Arc<Health>,
    pub(crate) backlog: Option<u64>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        inner: BoxStream<'static, Result<Received, ReceiveError>>,
        health: Arc<Health>,
    ) -> Self {
        Subscription {
            inner,
            health,
            backlog: None,
        }
    }

    /// For a replay: how many stored events it had to deliver when it started (`Some(0)`:
    /// nothing to replay). `None` for a live subscription.
    pub fn backlog(&self) -> Option<u64> {
        self.backlog
    }

    /// Messages dropped by the connection because a subscriber fell behind.
    pub fn dropped(&self) -> u64 {
        self.health.dropped()
    }

    /// Keeps only the events `filter` passes; messages that are not events still come out
    /// as errors. Subscribe to [`Interest::from_filter`] so that the server sends only what
    /// the filter can pass, and this decides about the rest.
    pub fn filtered(mut self, filter: Filter) -> Self {
        self.inner = self
            .inner
            .filter(move |item| {
                let keep = match item {
                    Ok(received) => filter.matches(received.parsed.event()),
                    Err(_) => true,
                };
                std::future::ready(keep)
            })
            .boxed();
        self
    }
}

impl Stream for Subscription {
    type Item = Result<Received, ReceiveError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl Connection {
    /// Subscribes to the events `interest` names, on the narrowest subjects.
    pub async fn subscribe(&self, interest: &Interest) -> Result<Subscription, Error> {
        self.subscribe_subjects(interest.subjects()?, None).await
    }

    /// As [`Connection::subscribe`], sharing the events with the other members of
    /// `queue_group` (each event goes to one member).
    pub async fn queue_subscribe(
        &self,
        interest: &Interest,
        queue_group: &str,
    ) -> Result<Subscription, Error> {
        self.subscribe_subjects(interest.subjects()?, Some(queue_group))
            .await
    }

    pub(crate) async fn live_streams(
        &self,
        subjects: Vec<String>,
        queue_group: Option<&str>,
    ) -> Result<Vec<BoxStream<'static, Result<Received, ReceiveError>>>, Error> {
        let mut streams = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let subscriber = match queue_group {
                Some(group) => self.client.queue_subscribe(subject, group.to_owned()).await,
                None => self.client.subscribe(subject).await,
            }
            .map_err(Error::subscribe)?;
            streams.push(
                subscriber
                    .map(|m| receive(m.subject, m.payload, None))
                    .boxed(),
            );
        }
        Ok(streams)
    }

    async fn subscribe_subjects(
        &self,
        subjects: Vec<String>,
        queue_group: Option<&str>,
    ) -> Result<Subscription, Error> {
        let mut streams = self.live_streams(subjects, queue_group).await?;
        let inner = if streams.len() == 1 {
            streams.remove(0)
        } else {
            stream::select_all(streams).boxed()
        };
        Ok(Subscription::new(inner, self.health.clone()))
    }
}
