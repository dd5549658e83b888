//! Which held event may start next: one at a time per key, the earliest first.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use crate::message::Message;

/// An event waiting for its turn.
#[derive(Debug)]
pub(crate) struct Queued {
    /// Arrival order (for one consumer, the stream order).
    pub(crate) arrival: u64,
    pub(crate) key: Option<String>,
    pub(crate) message: Message,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.arrival == other.arrival
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        self.arrival.cmp(&other.arrival)
    }
}

/// The events held and not running: each key's first is *ready* (it may start), the
/// others wait behind it until it is done. Ready events start earliest first, so with one
/// at a time everything runs in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    next_arrival: u64,
    /// Keys with an event ready or running, each with the events waiting behind it.
    busy: HashMap<String, VecDeque<Queued>>,
    ready: BinaryHeap<Reverse<Queued>>,
    waiting: usize,
    /// Stream sequences held (ready, waiting or running): one delivered again while held
    /// here is not taken twice.
    sequences: HashSet<u64>,
}

impl Schedule {
    /// Takes `message`, unless it is already held (delivered again): then it is handed back.
    pub(crate) fn push(&mut self, key: Option<String>, message: Message) -> Result<(), Message> {
        if let Some(sequence) = message.sequence() {
            if !self.sequences.insert(sequence) {
                return Err(message);
            }
        }
        let queued = Queued {
            arrival: self.next_arrival,
            key,
            message,
        };
        self.next_arrival = self.next_arrival.wrapping_add(1);
        match &queued.key {
            Some(key) => match self.busy.get_mut(key) {
                Some(behind) => {
                    behind.push_back(queued);
                    self.waiting += 1;
                }
                None => {
                    self.busy.insert(key.clone(), VecDeque::new());
                    self.ready.push(Reverse(queued));
                }
            },
            None => self.ready.push(Reverse(queued)),
        }
        Ok(())
    }

    /// The earliest ready event, to start now.
    pub(crate) fn pop_ready(&mut self) -> Option<Queued> {
        self.ready.pop().map(|Reverse(queued)| queued)
    }

    /// The event of `key` with stream `sequence` is done (settled, or given up): the next
    /// of its key becomes ready.
    pub(crate) fn finished(&mut self, key: Option<&str>, sequence: Option<u64>) {
        if let Some(sequence) = sequence {
            self.sequences.remove(&sequence);
        }
        let Some(key) = key else {
            return;
        };
        match self.busy.get_mut(key).map(VecDeque::pop_front) {
            Some(Some(next)) => {
                self.waiting -= 1;
                self.ready.push(Reverse(next));
            }
            Some(None) => {
                self.busy.remove(key);
            }
            None => {}
        }
    }

    /// Events held and not running.
    pub(crate) fn len(&self) -> usize {
        self.ready.len() + self.waiting
    }

    /// Every event held and not running.
    pub(crate) fn held(&self) -> impl Iterator<Item = &Message> {
        self.ready
            .iter()
            .map(|Reverse(queued)| &queued.message)
            .chain(self.busy.values().flatten().map(|queued| &queued.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(identity: &str) -> Message {
        let alive = lifecycle_testsupport::alive(identity, "1");
        Message::Live(Box::new(lifecycle_testsupport::received(&alive)))
    }

    fn identity(queued: &Queued) -> &str {
        queued.message.received().parsed.event().identity()
    }

    #[test]
    fn one_at_a_time_per_key_earliest_first() {
        let mut schedule = Schedule::default();
        for (n, node) in ["a", "a", "b", "a", "c"].iter().enumerate() {
            let key = (n != 4).then(|| node.to_string());
            schedule.push(key, message(node)).unwrap();
        }
        assert_eq!(schedule.len(), 5);
        let first = schedule.pop_ready().unwrap();
        assert_eq!((identity(&first), first.arrival), ("a", 0));
        let second = schedule.pop_ready().unwrap();
        assert_eq!((identity(&second), second.arrival), ("b", 2));
        let third = schedule.pop_ready().unwrap();
        assert_eq!(
            (identity(&third), third.arrival),
            ("c", 4),
            "no key: never waits"
        );
        assert!(
            schedule.pop_ready().is_none(),
            "a's next waits for the first"
        );
        assert_eq!(schedule.held().count(), 2);
        schedule.finished(Some("b"), None);
        assert!(schedule.pop_ready().is_none());
        schedule.finished(Some("a"), None);
        assert_eq!(schedule.pop_ready().unwrap().arrival, 1);
        schedule.finished(Some("a"), None);
        assert_eq!(schedule.pop_ready().unwrap().arrival, 3);
        schedule.finished(Some("a"), None);
        assert_eq!(schedule.len(), 0);
        assert!(schedule.busy.is_empty());
    }
}
