//! Whether a tally can be relied on now: connected to its broker, caught up with it. What
//! `/readyz`, `/api/v1/status` and the `connected` gauge say.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_nats::connection::State;

/// Why a tally is not ready, or that it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Readiness {
    /// Connected (or fed in process) and caught up: the counts are current.
    Ready,
    /// No broker connection: why, naming the servers (their credentials redacted).
    Unreachable(String),
    /// A warm start is replaying the recent past from JetStream.
    WarmingUp {
        /// Events replayed so far.
        replayed: u64,
        /// Events the replay had to deliver when it started.
        backlog: u64,
    },
    /// Not connected yet, and no attempt has failed yet.
    Starting,
    /// A warm start is loading the tally's snapshot.
    LoadingSnapshot,
    /// Counting stopped (the subscription or the replay failed: why) and the tally is
    /// subscribing again.
    Resubscribing(String),
}

impl Readiness {
    /// Whether the tally is ready.
    pub fn is_ready(&self) -> bool {
        *self == Readiness::Ready
    }
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Ready => f.write_str("ready"),
            Readiness::Unreachable(why) => write!(f, "broker unreachable: {why}"),
            Readiness::WarmingUp { replayed, backlog } => write!(
                f,
                "warm start in progress: replaying {replayed} of {backlog} events"
            ),
            Readiness::Starting => f.write_str("starting: connecting to the broker"),
            Readiness::LoadingSnapshot => {
                f.write_str("warm start in progress: loading the snapshot")
            }
            Readiness::Resubscribing(why) => {
                write!(f, "not counting: {why}; subscribing again")
            }
        }
    }
}

/// The state behind [`Readiness`], shared by a tally's clones.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// The broker connection's client, once connected: asked for its state whenever
    /// readiness is, so a broker that went away shows at once.
    client: Mutex<Option<async_nats::Client>>,
    /// The servers, as shown (credentials redacted).
    servers: Mutex<String>,
    /// Why connecting failed, until it succeeds.
    unreachable: Mutex<Option<String>>,
    /// The counts are current: no replay under way.
    caught_up: AtomicBool,
    /// The counts have been current once: from then on they are served, whatever happens.
    warm: AtomicBool,
    replayed: AtomicU64,
    backlog: AtomicU64,
    /// A snapshot is being loaded.
    loading: AtomicBool,
    /// Why counting stopped, until the next replay starts.
    stalled: Mutex<Option<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Health {
    /// The broker is at `servers` (as shown: credentials redacted).
    pub(crate) fn set_servers(&self, servers: String) {
        *lock(&self.servers) = servers;
    }

    /// Connecting failed: `why`.
    pub(crate) fn unreachable(&self, why: String) {
        *lock(&self.unreachable) = Some(why);
    }

    /// Connected, through `client`.
    pub(crate) fn connected_with(&self, client: async_nats::Client) {
        *lock(&self.client) = Some(client);
        *lock(&self.unreachable) = None;
    }

    /// Whether the broker connection is up.
    pub(crate) fn is_connected(&self) -> bool {
        lock(&self.client)
            .as_ref()
            .is_some_and(|c| c.connection_state() == State::Connected)
    }

    /// Whether a broker connection was ever made: without one, a tally fed in process
    /// needs none to be ready.
    fn is_attached(&self) -> bool {
        lock(&self.client).is_some()
    }

    /// Whether the tally counts from a broker, connected yet or not.
    pub(crate) fn has_broker(&self) -> bool {
        self.is_attached() || !lock(&self.servers).is_empty()
    }

    pub(crate) fn set_caught_up(&self, caught_up: bool) {
        self.caught_up.store(caught_up, Ordering::Relaxed);
        if caught_up {
            self.warm.store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_warm(&self) -> bool {
        self.warm.load(Ordering::Relaxed)
    }

    /// A snapshot is being loaded, or no longer.
    pub(crate) fn loading_snapshot(&self, loading: bool) {
        self.loading.store(loading, Ordering::Relaxed);
    }

    /// Counting stopped, for `why`, until the next replay starts.
    pub(crate) fn stalled(&self, why: String) {
        *lock(&self.stalled) = Some(why);
    }

    /// A replay of `backlog` events starts.
    pub(crate) fn replay_started(&self, backlog: u64) {
        lock(&self.stalled).take();
        self.replayed.store(0, Ordering::Relaxed);
        self.backlog.store(backlog, Ordering::Relaxed);
    }

    /// One more event replayed.
    pub(crate) fn replayed_one(&self) {
        self.replayed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn readiness(&self) -> Readiness {
        if self.is_attached() {
            if !self.is_connected() {
                let servers = lock(&self.servers).clone();
                let from = if servers.is_empty() {
                    "the broker".to_owned()
                } else {
                    servers
                };
                return Readiness::Unreachable(format!("disconnected from {from}, reconnecting"));
            }
        } else if let Some(why) = lock(&self.unreachable).clone() {
            return Readiness::Unreachable(why);
        }
        if self.caught_up.load(Ordering::Relaxed) {
            return Readiness::Ready;
        }
        if let Some(why) = lock(&self.stalled).clone() {
            return Readiness::Resubscribing(why);
        }
        if !self.is_attached() {
            return Readiness::Starting;
        }
        if self.loading.load(Ordering::Relaxed) {
            return Readiness::LoadingSnapshot;
        }
        let backlog = self.backlog.load(Ordering::Relaxed);
        Readiness::WarmingUp {
            // Messages that are not events are replayed too, but not counted as events.
            replayed: self.replayed.load(Ordering::Relaxed).min(backlog),
            backlog,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_is_missing() {
        let health = Health::default();
        assert_eq!(health.readiness(), Readiness::Starting);
        health
            .unreachable("cannot connect to NATS at nats://127.0.0.1:1: connection refused".into());
        assert_eq!(
            health.readiness().to_string(),
            "broker unreachable: cannot connect to NATS at nats://127.0.0.1:1: connection refused"
        );
        // Fed in process: ready once caught up, with no broker at all.
        let in_process = Health::default();
        in_process.set_caught_up(true);
        assert_eq!(in_process.readiness(), Readiness::Ready);
        assert!(in_process.is_warm());
        assert_eq!(
            Readiness::WarmingUp {
                replayed: 3,
                backlog: 10
            }
            .to_string(),
            "warm start in progress: replaying 3 of 10 events"
        );
        let failed = Health::default();
        failed.stalled("JetStream request failed: timed out".into());
        assert_eq!(
            failed.readiness().to_string(),
            "not counting: JetStream request failed: timed out; subscribing again"
        );
        failed.replay_started(5);
        assert_ne!(
            failed.readiness(),
            Readiness::Resubscribing("JetStream request failed: timed out".into())
        );
    }
}
