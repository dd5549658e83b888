//! Whether a replay has delivered what the stream held when it started: the one rule
//! `view`, `wait`, `nodes` and the tally's warm start follow.

/// Counts a replay's messages up to its backlog. A replay is through once as many messages
/// as the stream held at its start have come (events or not), or as soon as one comes with
/// nothing pending after it, whichever is first; a live subscription (no backlog) is
/// through at once.
///
/// ```
/// use lifecycle_nats::CatchUp;
///
/// let mut replay = CatchUp::new(Some(3));
/// assert!(!replay.record(Some(2)));
/// assert!(replay.record(Some(0)), "nothing pending: through, whatever was counted");
/// assert!(replay.is_caught_up());
/// assert!(!replay.record(Some(0)), "said once");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    backlog: u64,
    replayed: u64,
}

impl CatchUp {
    /// For a subscription's [`backlog`](crate::Subscription::backlog): `None` (live) and
    /// `Some(0)` are caught up at once.
    pub fn new(backlog: Option<u64>) -> CatchUp {
        CatchUp {
            backlog: backlog.unwrap_or(0),
            replayed: 0,
        }
    }

    /// Messages the replay had to deliver when it started.
    pub fn backlog(&self) -> u64 {
        self.backlog
    }

    /// Whether the replay is through.
    pub fn is_caught_up(&self) -> bool {
        self.replayed >= self.backlog
    }

    /// One message of the replay came (an event or a message that is none), with `pending`
    /// stored after it ([`Received::pending`](crate::Received::pending)). True for the one
    /// that catches up, false before and after.
    pub fn record(&mut self, pending: Option<u64>) -> bool {
        if self.is_caught_up() {
            return false;
        }
        self.replayed += 1;
        if pending == Some(0) {
            self.replayed = self.backlog;
        }
        self.is_caught_up()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_subscription_or_an_empty_replay_is_through_at_once() {
        for backlog in [None, Some(0)] {
            let mut live = CatchUp::new(backlog);
            assert!(live.is_caught_up());
            assert!(!live.record(None));
            assert!(!live.record(Some(0)));
        }
    }

    #[test]
    fn a_replay_is_through_after_its_backlog_or_when_nothing_is_pending() {
        let mut replay = CatchUp::new(Some(3));
        assert!(!replay.record(None));
        assert!(!replay.record(Some(5)), "more stored since: still counting");
        assert!(replay.record(None));
        assert!(replay.is_caught_up());
        assert!(!replay.record(None));
        assert_eq!(replay.backlog(), 3);
    }
}
