//! A problem that recurs (invalid messages, slow-consumer drops), logged at most once per
//! interval with its total, so 20,000 bad messages make two lines, not 20,000.

use std::fmt;
use std::time::{Duration, Instant};

use tracing::warn;

/// How often a [`Recurring`] problem is logged at most.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Counts a recurring problem and logs it at warn level: the first time at once, then at
/// most once per interval while it goes on, each time with the total so far and the latest
/// instance (escaped as Rust escapes a string in `{:?}`, so control characters in it cannot
/// reach a terminal). [`Recurring::flush`] logs what the last line did not cover.
#[derive(Debug)]
pub struct Recurring {
    what: &'static str,
    interval: Duration,
    total: u64,
    reported: u64,
    latest: Option<String>,
    last: Option<Instant>,
}

impl Recurring {
    /// A problem described by `what` ("invalid messages skipped"), logged at most once per
    /// [`WARNING_INTERVAL`].
    pub fn new(what: &'static str) -> Self {
        Recurring {
            what,
            interval: WARNING_INTERVAL,
            total: 0,
            reported: 0,
            latest: None,
            last: None,
        }
    }

    /// Logs at most once per `interval` instead.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// One more occurrence, `latest` saying what it was.
    pub fn record(&mut self, latest: impl fmt::Display) {
        self.record_total(self.total.saturating_add(1), latest);
    }

    /// The problem has now happened `total` times in all (for counters kept elsewhere).
    pub fn record_total(&mut self, total: u64, latest: impl fmt::Display) {
        if total <= self.total {
            return;
        }
        self.total = total;
        self.latest = Some(latest.to_string());
        if self.last.is_none_or(|at| at.elapsed() >= self.interval) {
            self.report();
        }
    }

    /// Logs the occurrences the last line did not cover, if any.
    pub fn flush(&mut self) {
        if self.total > self.reported {
            self.report();
        }
    }

    /// Occurrences so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn report(&mut self) {
        let latest = self.latest.as_deref().unwrap_or_default();
        warn!(
            total = self.total,
            since_last_warning = self.total - self.reported,
            latest = %lifecycle_core::terminal::TerminalSafe(latest),
            "{}",
            self.what
        );
        self.reported = self.total;
        self.last = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_at_once_then_once_per_interval_then_the_rest_on_flush() {
        let mut problem =
            Recurring::new("things went wrong").with_interval(Duration::from_secs(3600));
        problem.record("first");
        assert_eq!((problem.total(), problem.reported), (1, 1));
        for n in 0..1999 {
            problem.record(format!("number {n}"));
        }
        assert_eq!((problem.total(), problem.reported), (2000, 1));
        assert_eq!(problem.latest.as_deref(), Some("number 1998"));
        problem.flush();
        assert_eq!(problem.reported, 2000);

        let mut every = Recurring::new("each").with_interval(Duration::ZERO);
        every.record_total(5, "x");
        every.record_total(3, "older count: ignored");
        assert_eq!((every.total(), every.reported), (5, 5));
        assert_eq!(every.latest.as_deref(), Some("x"));
    }
}
