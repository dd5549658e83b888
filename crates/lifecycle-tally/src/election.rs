//! Leader election among tally instances, through a JetStream key-value bucket.
//!
//! The leader holds the election's key and renews it every quarter of the bucket's TTL; the
//! others try to create the key as often. The key of a leader that died expires after the
//! TTL, and a follower takes it on its next try: a new leader within [`Election::bound`].
//! A leader that stops cleanly deletes the key, so another takes over on its next try.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind};
use lifecycle_nats::{Connection, Error};
use tracing::{info, warn};

/// The bucket Choria's tallies elect their leader in.
pub const ELECTION_BUCKET: &str = "CHORIA_LEADER_ELECTION";

/// How long a leader's claim lasts without renewal, by default.
pub const DEFAULT_ELECTION_TTL: Duration = Duration::from_secs(10);

/// One election: a name (the key) and how long a claim lasts.
#[derive(Debug, Clone)]
pub struct Election {
    name: String,
    ttl: Duration,
    id: String,
}

impl Election {
    /// An election called `name` whose claims last `ttl`; `id` names this candidate.
    pub fn new(name: impl Into<String>, ttl: Duration, id: impl Into<String>) -> Self {
        Election {
            name: name.into(),
            ttl,
            id: id.into(),
        }
    }

    /// The election's name: the key its leader holds.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The longest a leader that died stays leader, and so the longest the others are
    /// without one: its claim's TTL, then one try of the others, with a second of slack for
    /// the server's expiry.
    pub fn bound(&self) -> Duration {
        self.ttl + self.ttl / 4 + Duration::from_secs(1)
    }

    /// Campaigns until `shutdown` completes, telling `on_change` each time this candidate
    /// becomes leader (`true`) or stops being it (`false`).
    pub async fn run(
        &self,
        connection: &Connection,
        mut on_change: impl FnMut(bool),
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), crate::Error> {
        let bucket = bucket(connection, self.ttl).await?;
        let mut tick = tokio::time::interval(self.ttl / 4);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut held: Option<u64> = None;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            let value = self.id.clone().into_bytes().into();
            held = match held {
                Some(revision) => match bucket.update(&self.name, value, revision).await {
                    Ok(revision) => Some(revision),
                    Err(e) => {
                        warn!(election = %self.name, error = %e, "lost the leadership");
                        on_change(false);
                        None
                    }
                },
                None => match bucket.create(&self.name, value).await {
                    Ok(revision) => {
                        info!(election = %self.name, id = %self.id, "became the leader");
                        on_change(true);
                        Some(revision)
                    }
                    Err(e) if e.kind() == CreateErrorKind::AlreadyExists => None,
                    Err(e) => {
                        warn!(election = %self.name, error = %e, "could not campaign");
                        None
                    }
                },
            };
        }
        if held.is_some() {
            // Stepping down cleanly: the next candidate need not wait for the TTL.
            if let Err(e) = bucket.delete(&self.name).await {
                warn!(election = %self.name, error = %e, "could not step down");
            }
            on_change(false);
        }
        Ok(())
    }
}

/// The election bucket, made with `ttl` when it does not exist yet, replicated like the events
/// stream: an election must survive the loss of any one server.
async fn bucket(connection: &Connection, ttl: Duration) -> Result<kv::Store, Error> {
    connection
        .key_value(kv::Config {
            bucket: ELECTION_BUCKET.to_owned(),
            history: 1,
            max_age: ttl,
            ..Default::default()
        })
        .await
}
