//! The live feed: every event a tally counts, to whoever listens right now.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lifecycle_core::AnyEvent;
use tokio::sync::broadcast;

pub use tokio::sync::broadcast::error::RecvError;

/// Events a listener may fall behind by before it misses some (and is told how many).
pub const FEED_CAPACITY: usize = 4096;

/// The sending side, owned by a [`Tally`](crate::Tally). Cheap to clone: clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Feed {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    sender: broadcast::Sender<Arc<AnyEvent>>,
    /// Live [`FeedSubscription`]s. Kept here rather than asked of the channel, whose
    /// `receiver_count` takes a lock: with nobody listening, a send costs one atomic load.
    listeners: AtomicUsize,
}

impl Feed {
    pub(crate) fn new(capacity: usize) -> Feed {
        let (sender, _) = broadcast::channel(capacity);
        Feed {
            shared: Arc::new(Shared {
                sender,
                listeners: AtomicUsize::new(0),
            }),
        }
    }

    /// Whether anyone listens.
    #[inline]
    pub(crate) fn has_listeners(&self) -> bool {
        self.shared.listeners.load(Ordering::Acquire) > 0
    }

    pub(crate) fn listeners(&self) -> usize {
        self.shared.listeners.load(Ordering::Acquire)
    }

    /// Sends `event` to the listeners.
    pub(crate) fn send(&self, event: &AnyEvent) {
        // Fails only when the last listener left since `has_listeners`: nobody to tell.
        let _ = self.shared.sender.send(Arc::new(event.clone()));
    }

    pub(crate) fn subscribe(&self) -> FeedSubscription {
        let receiver = self.shared.sender.subscribe();
        self.shared.listeners.fetch_add(1, Ordering::AcqRel);
        FeedSubscription {
            receiver,
            shared: self.shared.clone(),
        }
    }
}

/// One listener to a tally's live feed, from [`Tally::subscribe_feed`](crate::Tally::subscribe_feed):
/// it receives every event counted after it subscribed, in order. Dropping it unsubscribes.
#[derive(Debug)]
pub struct FeedSubscription {
    receiver: broadcast::Receiver<Arc<AnyEvent>>,
    shared: Arc<Shared>,
}

impl FeedSubscription {
    /// The next event. [`RecvError::Lagged`] says how many events were missed by falling
    /// more than [`FEED_CAPACITY`] behind (receiving goes on after it);
    /// [`RecvError::Closed`] that every clone of the tally is gone.
    pub async fn recv(&mut self) -> Result<Arc<AnyEvent>, RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for FeedSubscription {
    fn drop(&mut self) {
        self.shared.listeners.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_core::{Event, EventType};

    use crate::{Tally, TallyOptions};

    use super::*;

    fn alive(identity: &str) -> AnyEvent {
        AnyEvent::Lifecycle(
            Event::builder(EventType::Alive)
                .identity(identity)
                .component("server")
                .version("0.29.4")
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn without_listeners_nothing_is_sent() {
        let tally = Tally::new(TallyOptions::default());
        for i in 0..10 {
            tally.observe(&alive(&format!("n{i}")));
        }
        assert_eq!(tally.feed_listeners(), 0);
        // Nothing queued: a channel holds what was sent while anyone listened.
        assert_eq!(tally.feed.shared.sender.len(), 0);
        assert_eq!(tally.feed.shared.sender.receiver_count(), 0);
        assert_eq!(tally.fleet().len(), 10);
    }

    #[tokio::test]
    async fn listeners_get_counted_events_in_order_and_are_told_what_they_missed() {
        let tally = Tally::new(TallyOptions {
            components: ["server".to_owned()].into(),
            ..Default::default()
        });
        let mut feed = tally.subscribe_feed();
        assert_eq!(tally.feed_listeners(), 1);
        let first = alive("first");
        tally.observe(&first);
        // Not counted, so not in the feed.
        let other = Event::builder(EventType::Alive)
            .identity("n")
            .component("broker")
            .version("1")
            .build()
            .unwrap();
        tally.observe(&AnyEvent::Lifecycle(other));
        let got = feed.recv().await.unwrap();
        assert_eq!(got.id(), first.id());
        // Already counted when it arrives.
        assert!(
            tally
                .fleet()
                .nodes(None, None)
                .any(|n| n.identity == "first")
        );

        let events: Vec<AnyEvent> = (0..FEED_CAPACITY + 10)
            .map(|i| alive(&format!("n{i}")))
            .collect();
        for event in &events {
            tally.observe(event);
        }
        assert!(matches!(feed.recv().await, Err(RecvError::Lagged(10))));
        assert_eq!(feed.recv().await.unwrap().id(), events[10].id());

        drop(feed);
        assert_eq!(tally.feed_listeners(), 0);
    }
}
