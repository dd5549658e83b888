use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures_util::stream::{self, StreamExt};
use time::OffsetDateTime;

use crate::connection::Connection;
use crate::error::Error;
use crate::streams::{EVENTS_STREAM, StreamChange, StreamSpec};
use crate::subscribe::{Interest, Position, ReceiveError, Subscription, receive};

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// The oldest event the stream still holds.
    Start,
    /// The first event stored at or after this time.
    Time(SystemTime),
    /// This stream sequence.
    Sequence(u64),
}

impl Connection {
    /// Creates [`EVENTS_STREAM`] keeping `max_age` of events on one replica, when the server
    /// lacks it (an existing one's retention becomes `max_age`, its replicas stay, see
    /// [`Connection::ensure_stream`]). Returns whether it was created.
    pub async fn ensure_events_stream(&self, max_age: Duration) -> Result<bool, Error> {
        let change = self
            .ensure_stream(&StreamSpec::events(max_age, None))
            .await?;
        Ok(change == StreamChange::Created)
    }

    /// Replays the lifecycle events `interest` names from [`EVENTS_STREAM`], starting at
    /// `from`, then goes on with new ones as they are stored: one ordered sequence, with no
    /// gap and no duplicate where the past meets the present. Machine events, which that
    /// stream does not hold, are received live alongside.
    pub async fn replay(
        &self,
        interest: &Interest,
        from: ReplayFrom,
    ) -> Result<Subscription, Error> {
        let events = self.existing_stream(EVENTS_STREAM).await?;
        let mut filters = interest.lifecycle_subjects()?;
        let deliver_policy = match from {
            ReplayFrom::Start => DeliverPolicy::All,
            ReplayFrom::Time(at) => DeliverPolicy::ByStartTime {
                start_time: OffsetDateTime::from(at),
            },
            ReplayFrom::Sequence(start_sequence) => {
                DeliverPolicy::ByStartSequence { start_sequence }
            }
        };
        let mut config = OrderedConfig {
            deliver_policy,
            ..Default::default()
        };
        if filters.len() == 1 {
            config.filter_subject = filters.remove(0);
        } else {
            config.filter_subjects = filters;
        }
        let mut consumer = events
            .create_consumer(config)
            .await
            .map_err(Error::jetstream)?;
        // Asked again: right after creation the server may not have counted a start-time
        // consumer's pending messages yet.
        let backlog = consumer.info().await.map_err(Error::jetstream)?.num_pending;
        let replayed = consumer
            .messages()
            .await
            .map_err(Error::jetstream)?
            .map(|message| match message {
                Ok(message) => {
                    let position = message.info().ok().map(|info| Position::of(&info));
                    let message = message.message;
                    receive(message.subject, message.payload, position)
                }
                Err(e) => Err(ReceiveError::Stream(Box::new(Error::jetstream(e)))),
            })
            .boxed();
        let mut streams = self.live_streams(interest.machine_subjects(), None).await?;
        let inner = if streams.is_empty() {
            replayed
        } else {
            streams.push(replayed);
            stream::select_all(streams).boxed()
        };
        let mut subscription = Subscription::new(inner, self.health.clone());
        subscription.backlog = Some(backlog);
        Ok(subscription)
    }
}
