//! Acting at most once per key within a window: for flapping nodes.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many keys a rule's dedupe window remembers at most; beyond, the oldest is forgotten early (and
/// its key may be acted on again within the window).
pub const MAX_REMEMBERED: usize = 200_000;

/// The keys acted on within the last `window`, in one process, in bounded memory.
#[derive(Debug)]
pub(crate) struct Dedupe {
    window: Duration,
    max: usize,
    last: HashMap<String, Instant>,
    /// Keys in the order they were acted on, each with when; a key acted on again has a
    /// stale entry here, skipped when it reaches the front.
    order: VecDeque<(Instant, String)>,
}

impl Dedupe {
    pub(crate) fn new(window: Duration) -> Dedupe {
        Dedupe::with_capacity(window, MAX_REMEMBERED)
    }

    fn with_capacity(window: Duration, max: usize) -> Dedupe {
        Dedupe {
            window,
            max: max.max(1),
            last: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` was acted on less than the window ago.
    pub(crate) fn seen(&mut self, key: &str, now: Instant) -> bool {
        self.forget_before(now);
        self.last
            .get(key)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.window)
    }

    /// `key` was acted on at `now`.
    pub(crate) fn acted(&mut self, key: &str, now: Instant) {
        self.forget_before(now);
        self.last.insert(key.to_owned(), now);
        self.order.push_back((now, key.to_owned()));
        while self.last.len() > self.max || self.order.len() > self.max.saturating_mul(2) {
            let Some((at, oldest)) = self.order.pop_front() else {
                break;
            };
            if self.last.get(&oldest) == Some(&at) {
                self.last.remove(&oldest);
            }
        }
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            if let Some((at, key)) = self.order.pop_front() {
                if self.last.get(&key) == Some(&at) {
                    self.last.remove(&key);
                }
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_key_within_the_window_in_bounded_memory() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut dedupe = Dedupe::with_capacity(Duration::from_secs(10), 3);
        assert!(!dedupe.seen("a", at(0)));
        dedupe.acted("a", at(0));
        assert!(dedupe.seen("a", at(9_999)));
        assert!(!dedupe.seen("b", at(9_999)));
        assert!(!dedupe.seen("a", at(10_000)), "the window has passed");
        assert_eq!(dedupe.len(), 0, "forgotten");

        dedupe.acted("a", at(20_000));
        dedupe.acted("a", at(25_000));
        assert!(dedupe.seen("a", at(31_000)), "the later one counts");
        for (n, key) in ["b", "c", "d"].iter().enumerate() {
            dedupe.acted(key, at(26_000 + n as u64));
        }
        assert_eq!(dedupe.len(), 3, "capped");
        assert!(!dedupe.seen("a", at(26_010)), "the oldest went first");
        assert!(dedupe.seen("d", at(26_010)));
        for n in 0..10_000u64 {
            dedupe.acted("z", at(30_000 + n));
        }
        assert!(dedupe.order.len() <= 6, "{}", dedupe.order.len());
    }
}
