//! When to try again: capped exponential backoff.

use std::time::Duration;

/// When to try again: `initial`, doubling up to `max`; `attempts` in all (`None`: until it
/// succeeds or the engine stops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts per event, the first included; `None` for no limit.
    pub attempts: Option<u32>,
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s, no limit on attempts.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            attempts: None,
        }
    }
}

impl Backoff {
    /// Waits from 100 ms (or `max` when that is shorter), doubling up to `max`; `attempts` in
    /// all. What `forward --max-backoff` and a rule's `max_backoff` ask for.
    pub fn capped(max: Duration, attempts: Option<u32>) -> Backoff {
        Backoff {
            initial: Duration::from_millis(100).min(max),
            max,
            attempts,
        }
    }

    /// The wait after failed attempt number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Whether `attempts` made are all there may be.
    pub fn exhausted(&self, attempts: u32) -> bool {
        self.attempts.is_some_and(|n| attempts >= n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            attempts: Some(3),
        };
        let delays: Vec<u128> = (1..=8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(b.delay(100), Duration::from_secs(2));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(2));
        assert_eq!(
            (b.exhausted(2), b.exhausted(3), b.exhausted(4)),
            (false, true, true)
        );
        assert!(!Backoff::default().exhausted(u32::MAX));
    }
}
