//! Counting matched events toward a goal, as `lifecycle wait` does: N events, or N distinct
//! identities.

use std::collections::HashSet;

use lifecycle_core::AnyEvent;

/// Progress toward seeing `target` events, or `target` distinct identities.
///
/// ```
/// use lifecycle_core::{AnyEvent, Event, EventType};
/// use lifecycle_watch::Progress;
///
/// let alive = |identity: &str| -> AnyEvent {
///     Event::builder(EventType::Alive).identity(identity).component("server")
///         .version("0.29.4").build().unwrap().into()
/// };
/// let mut progress = Progress::distinct_identities(2);
/// assert!(progress.record(&alive("node1")));
/// assert!(!progress.record(&alive("node1")));
/// assert!(!progress.is_met());
/// progress.record(&alive("node2"));
/// assert!(progress.is_met());
/// assert_eq!(progress.to_string(), "2/2 nodes");
/// ```
#[derive(Debug, Clone)]
pub struct Progress {
    target: u64,
    count: u64,
    identities: Option<HashSet<String>>,
}

impl Progress {
    /// Met after `target` events.
    pub fn events(target: u64) -> Self {
        Progress {
            target,
            count: 0,
            identities: None,
        }
    }

    /// Met after events from `target` different identities.
    pub fn distinct_identities(target: u64) -> Self {
        Progress {
            target,
            count: 0,
            identities: Some(HashSet::new()),
        }
    }

    /// Counts a matched event; returns whether it moved the count.
    pub fn record(&mut self, event: &AnyEvent) -> bool {
        if let Some(seen) = &mut self.identities {
            if seen.contains(event.identity()) {
                return false;
            }
            seen.insert(event.identity().to_owned());
        }
        self.count += 1;
        true
    }

    /// How many counted so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many are needed.
    pub fn target(&self) -> u64 {
        self.target
    }

    /// Whether the goal is reached.
    pub fn is_met(&self) -> bool {
        self.count >= self.target
    }
}

/// `3/50 events` or `12/50 nodes`.
impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.identities.is_some() {
            "nodes"
        } else {
            "events"
        };
        write!(f, "{}/{} {unit}", self.count, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(identity: &str) -> AnyEvent {
        lifecycle_testsupport::alive(identity, "1").into()
    }

    #[test]
    fn counts_events_or_distinct_identities() {
        let mut events = Progress::events(3);
        let mut nodes = Progress::distinct_identities(3);
        for identity in ["a", "b", "a", "a"] {
            events.record(&alive(identity));
            nodes.record(&alive(identity));
        }
        assert!(events.is_met());
        assert_eq!(events.count(), 4);
        assert_eq!(events.to_string(), "4/3 events");
        assert!(!nodes.is_met());
        assert_eq!(nodes.to_string(), "2/3 nodes");
        nodes.record(&alive("c"));
        assert!(nodes.is_met());
        assert!(Progress::events(0).is_met());
    }
}
