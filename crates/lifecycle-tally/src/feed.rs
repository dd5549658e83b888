//! The live feed: every event a tally counts, to whoever listens right now.
//!
//! Each listener has its own queue, bounded in bytes rather than in events: events are a few
//! hundred bytes or a megabyte, and a listener that never reads (a browser tab left in the
//! background, a client that stalls on purpose) must cost a known amount of memory. A
//! listener whose queue would pass the budget loses what it holds, and is told how many
//! events it missed before it gets the next.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use lifecycle_core::AnyEvent;
use tokio::sync::Notify;

use crate::error::{Error, ErrorKind};

/// Bytes of events the feed holds for one listener by default: 1 MiB.
pub const DEFAULT_FEED_BUDGET: usize = 1 << 20;

/// An event in the feed, with its Choria JSON on one line, made once for every listener.
#[derive(Debug)]
pub struct FeedEvent {
    event: AnyEvent,
    json: String,
}

impl FeedEvent {
    fn new(event: &AnyEvent) -> FeedEvent {
        let mut json = event.to_json();
        // Outside strings JSON may hold line breaks (kept raw extra fields), inside never:
        // blanks in their place keep the JSON to one line, as one SSE `data:` line.
        for byte in &mut json {
            if matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
        let json = String::from_utf8(json)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        FeedEvent {
            event: event.clone(),
            json,
        }
    }

    /// The event.
    pub fn event(&self) -> &AnyEvent {
        &self.event
    }

    /// Its Choria JSON, on one line.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// What it counts against a listener's budget: its JSON's length.
    fn size(&self) -> usize {
        self.json.len()
    }
}

/// What the feed holds and has dropped, across its listeners, for the metrics.
#[derive(Debug, Default)]
pub(crate) struct FeedStats {
    buffered: AtomicUsize,
    dropped: AtomicU64,
}

impl FeedStats {
    /// Bytes of events held for listeners that have not read them yet.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    /// Events dropped from listeners that fell behind.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One listener's queue.
#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Arc<FeedEvent>>,
    bytes: usize,
    /// Dropped since the listener last heard of it.
    missed: u64,
    closed: bool,
}

#[derive(Debug)]
struct Listener {
    queue: Mutex<Queue>,
    ready: Notify,
}

impl Listener {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending side, owned by a [`Tally`](crate::Tally). Cheap to clone: clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Feed {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    listeners: Mutex<Vec<Arc<Listener>>>,
    /// How many listen. Kept apart from the list, whose lock a send would otherwise take:
    /// with nobody listening, a send costs one atomic load.
    count: AtomicUsize,
    budget: usize,
    stats: Arc<FeedStats>,
}

impl Shared {
    fn listeners(&self) -> MutexGuard<'_, Vec<Arc<Listener>>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Shared {
    /// The tally is gone: listeners get what they hold, then [`ErrorKind::FeedClosed`].
    fn drop(&mut self) {
        for listener in self.listeners().iter() {
            listener.queue().closed = true;
            listener.ready.notify_one();
        }
    }
}

impl Feed {
    /// A feed that holds at most `budget` bytes of events for each listener.
    pub(crate) fn new(budget: usize) -> Feed {
        Feed {
            shared: Arc::new(Shared {
                listeners: Mutex::new(Vec::new()),
                count: AtomicUsize::new(0),
                budget,
                stats: Arc::default(),
            }),
        }
    }

    pub(crate) fn stats(&self) -> Arc<FeedStats> {
        self.shared.stats.clone()
    }

    /// Whether anyone listens.
    #[inline]
    pub(crate) fn has_listeners(&self) -> bool {
        self.shared.count.load(Ordering::Acquire) > 0
    }

    pub(crate) fn listeners(&self) -> usize {
        self.shared.count.load(Ordering::Acquire)
    }

    /// Sends `event` to the listeners. One whose queue would pass the budget loses what it
    /// holds (counted as missed) and keeps this event, unless this one alone is too big.
    pub(crate) fn send(&self, event: &AnyEvent) {
        let event = Arc::new(FeedEvent::new(event));
        let size = event.size();
        let stats = &self.shared.stats;
        for listener in self.shared.listeners().iter() {
            let mut queue = listener.queue();
            if queue.bytes + size > self.shared.budget {
                let dropped = queue.events.len() as u64;
                stats.buffered.fetch_sub(queue.bytes, Ordering::Relaxed);
                stats.dropped.fetch_add(dropped, Ordering::Relaxed);
                queue.events.clear();
                queue.bytes = 0;
                queue.missed += dropped;
            }
            if size > self.shared.budget {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                queue.missed += 1;
            } else {
                queue.events.push_back(event.clone());
                queue.bytes += size;
                stats.buffered.fetch_add(size, Ordering::Relaxed);
            }
            drop(queue);
            listener.ready.notify_one();
        }
    }

    pub(crate) fn subscribe(&self) -> FeedSubscription {
        let listener = Arc::new(Listener {
            queue: Mutex::default(),
            ready: Notify::new(),
        });
        self.shared.listeners().push(listener.clone());
        self.shared.count.fetch_add(1, Ordering::AcqRel);
        FeedSubscription {
            listener,
            stats: self.shared.stats.clone(),
            feed: Arc::downgrade(&self.shared),
        }
    }
}

/// One listener to a tally's live feed, from [`Tally::subscribe_feed`](crate::Tally::subscribe_feed):
/// it receives every event counted after it subscribed, in order, as long as it keeps up
/// within its budget ([`TallyOptions::feed_budget`](crate::TallyOptions::feed_budget)).
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct FeedSubscription {
    listener: Arc<Listener>,
    stats: Arc<FeedStats>,
    /// Weak, so that the feed ends when the tally does.
    feed: Weak<Shared>,
}

impl FeedSubscription {
    /// The next event. [`ErrorKind::FeedLagged`] says how many events were dropped for falling
    /// more than the budget behind (receiving goes on after it); [`ErrorKind::FeedClosed`] that
    /// every clone of the tally is gone.
    pub async fn recv(&mut self) -> Result<Arc<FeedEvent>, Error> {
        loop {
            {
                let mut queue = self.listener.queue();
                if queue.missed > 0 {
                    return Err(Error::new(ErrorKind::FeedLagged(std::mem::take(
                        &mut queue.missed,
                    ))));
                }
                if let Some(event) = queue.events.pop_front() {
                    queue.bytes -= event.size();
                    self.stats
                        .buffered
                        .fetch_sub(event.size(), Ordering::Relaxed);
                    return Ok(event);
                }
                if queue.closed {
                    return Err(Error::new(ErrorKind::FeedClosed));
                }
            }
            // A send between the check and here leaves a permit: nothing is missed.
            self.listener.ready.notified().await;
        }
    }

    /// Bytes of events held for this listener, not yet received.
    pub fn buffered_bytes(&self) -> usize {
        self.listener.queue().bytes
    }
}

impl Drop for FeedSubscription {
    fn drop(&mut self) {
        let Some(feed) = self.feed.upgrade() else {
            return;
        };
        let mut listeners = feed.listeners();
        listeners.retain(|l| !Arc::ptr_eq(l, &self.listener));
        feed.count.fetch_sub(1, Ordering::AcqRel);
        let held = std::mem::take(&mut self.listener.queue().bytes);
        self.stats.buffered.fetch_sub(held, Ordering::Relaxed);
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
        assert_eq!(tally.feed.shared.listeners().len(), 0);
        assert_eq!(tally.feed_buffered_bytes(), 0);
        assert_eq!(tally.fleet().len(), 10);
    }

    #[tokio::test]
    async fn listeners_get_counted_events_in_order_and_are_told_what_they_missed() {
        // Every event here is the same size: room for exactly 100 of them.
        let size = FeedEvent::new(&alive("n0000")).size();
        let tally = Tally::new(TallyOptions {
            components: ["server".to_owned()].into(),
            feed_budget: 100 * size,
            ..Default::default()
        });
        let mut feed = tally.subscribe_feed();
        assert_eq!(tally.feed_listeners(), 1);
        let first = alive("frst1");
        tally.observe(&first);
        // Not counted, so not in the feed.
        let other = Event::builder(EventType::Alive)
            .identity("n")
            .component("broker")
            .version("1")
            .build()
            .unwrap();
        tally.observe(&AnyEvent::Lifecycle(other));
        assert_eq!(tally.feed_buffered_bytes(), size);
        let got = feed.recv().await.unwrap();
        assert_eq!(got.event().id(), first.id());
        assert_eq!(tally.feed_buffered_bytes(), 0);
        // Already counted when it arrives.
        assert!(
            tally
                .fleet()
                .nodes(None, None)
                .any(|n| n.identity == "frst1")
        );

        // 125 events: the 101st finds the queue full, so the first 100 are dropped.
        let events: Vec<AnyEvent> = (0..125).map(|i| alive(&format!("n{i:04}"))).collect();
        for event in &events {
            tally.observe(event);
            assert!(tally.feed_buffered_bytes() <= 100 * size);
        }
        assert_eq!(feed.buffered_bytes(), 25 * size);
        assert_eq!(
            feed.recv().await.unwrap_err().kind(),
            &ErrorKind::FeedLagged(100)
        );
        for event in &events[100..] {
            assert_eq!(feed.recv().await.unwrap().event().id(), event.id());
        }
        assert_eq!(tally.feed_dropped(), 100);

        drop(feed);
        assert_eq!(tally.feed_listeners(), 0);
        assert_eq!(tally.feed_buffered_bytes(), 0);
    }

    #[tokio::test]
    async fn an_event_larger_than_the_budget_is_missed_and_the_feed_ends_with_the_tally() {
        let tally = Tally::new(TallyOptions {
            feed_budget: 10,
            ..Default::default()
        });
        let mut feed = tally.subscribe_feed();
        tally.observe(&alive("n1"));
        assert_eq!(tally.feed_buffered_bytes(), 0);
        assert_eq!(
            feed.recv().await.unwrap_err().kind(),
            &ErrorKind::FeedLagged(1)
        );
        drop(tally);
        assert_eq!(
            feed.recv().await.unwrap_err().kind(),
            &ErrorKind::FeedClosed
        );
    }
}
