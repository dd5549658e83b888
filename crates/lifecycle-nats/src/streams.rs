//! The JetStream streams Choria's brokers keep events in, set up as Choria's broker sets
//! them up (go-choria `broker/network/network_jetstream.go`): file storage, the subjects,
//! a retention (`max_age`) and a replica count; an existing stream whose retention or
//! replica count differs is updated to them, anything else about it is left alone.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use tracing::info;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind};

/// The stream in which Choria's brokers keep lifecycle events.
pub const EVENTS_STREAM: &str = "CHORIA_EVENTS";
/// The subjects of [`EVENTS_STREAM`].
pub const EVENTS_SUBJECTS: &str = "choria.lifecycle.>";
/// How long Choria's broker and `lifecycle streams create` keep events unless told otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The stream `lifecycle streams create` makes for dead letters.
pub const DEAD_LETTER_STREAM: &str = "LIFECYCLE_DEAD_LETTERS";
/// The subjects of [`DEAD_LETTER_STREAM`]: give each rule or forwarder its own subject under
/// it, such as `lifecycle.dead.provision`.
pub const DEAD_LETTER_SUBJECTS: &str = "lifecycle.dead.>";

/// The stream in which Choria's brokers keep machine events.
pub const MACHINE_STREAM: &str = "CHORIA_MACHINE";
/// The subjects of [`MACHINE_STREAM`].
pub const MACHINE_SUBJECTS: &str = "choria.machine.>";

/// How a stream should be: what [`Connection::ensure_stream`] makes true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The stream's name.
    pub name: String,
    /// The subjects it stores.
    pub subjects: Vec<String>,
    /// How long it keeps a message (`max_age`).
    pub retention: Duration,
    /// How many servers of a cluster hold it; `None` keeps an existing stream's count and
    /// gives a new one a single replica.
    pub replicas: Option<usize>,
}

impl StreamSpec {
    /// [`EVENTS_STREAM`]: lifecycle events.
    pub fn events(retention: Duration, replicas: Option<usize>) -> StreamSpec {
        StreamSpec {
            name: EVENTS_STREAM.to_owned(),
            subjects: vec![EVENTS_SUBJECTS.to_owned()],
            retention,
            replicas,
        }
    }

    /// [`DEAD_LETTER_STREAM`]: events `forward` and `react` gave up on.
    pub fn dead_letters(retention: Duration, replicas: Option<usize>) -> StreamSpec {
        StreamSpec {
            name: DEAD_LETTER_STREAM.to_owned(),
            subjects: vec![DEAD_LETTER_SUBJECTS.to_owned()],
            retention,
            replicas,
        }
    }

    /// [`MACHINE_STREAM`]: autonomous agents' machine events.
    pub fn machine(retention: Duration, replicas: Option<usize>) -> StreamSpec {
        StreamSpec {
            name: MACHINE_STREAM.to_owned(),
            subjects: vec![MACHINE_SUBJECTS.to_owned()],
            retention,
            replicas,
        }
    }
}

/// What [`Connection::ensure_stream`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamChange {
    /// The stream did not exist and was created.
    Created,
    /// The stream's retention, its replica count or both were other and are now those
    /// asked for: what they were, for those that changed.
    Updated {
        /// The retention it had, when it changed.
        retention: Option<Duration>,
        /// The replicas it had, when they changed.
        replicas: Option<usize>,
    },
    /// The stream was already as asked.
    Unchanged,
}

/// A stream as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamState {
    /// The stream's name.
    pub name: String,
    /// The subjects it stores.
    pub subjects: Vec<String>,
    /// How long it keeps a message; zero for no limit.
    pub retention: Duration,
    /// How many servers hold it.
    pub replicas: usize,
    /// `file` or `memory`.
    pub storage: &'static str,
    /// Messages it holds.
    pub messages: u64,
    /// The sequence of the newest message it stored (0 before the first).
    pub last_sequence: u64,
    /// Bytes it holds.
    pub bytes: u64,
    /// When the oldest message it holds was stored; `None` when it holds none.
    pub first: Option<SystemTime>,
    /// When the newest message it holds was stored; `None` when it holds none.
    pub last: Option<SystemTime>,
    /// Consumers it has.
    pub consumers: usize,
}

impl Connection {
    /// Creates the stream `spec` describes, or sets an existing one's retention and replica
    /// count to `spec`'s, as Choria's broker does; running it again changes nothing. A replica
    /// count the cluster cannot give is an error naming both counts, never left as it was
    /// in silence.
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> Result<StreamChange, Error> {
        let js = self.jetstream()?;
        match js.get_stream(&spec.name).await {
            Ok(mut stream) => {
                let info = stream.info().await.map_err(Error::jetstream)?;
                let mut config = info.config.clone();
                // The server reports a single replica as 0 or 1.
                let have = config.num_replicas.max(1);
                let retention = (config.max_age != spec.retention).then_some(config.max_age);
                let asked = spec.replicas.unwrap_or(have);
                let replicas = (have != asked).then_some(have);
                if retention.is_none() && replicas.is_none() {
                    return Ok(StreamChange::Unchanged);
                }
                config.max_age = spec.retention;
                config.num_replicas = asked;
                js.update_stream(config).await.map_err(|e| match replicas {
                    Some(have) => Error::with_source(
                        ErrorKind::Replicas {
                            stream: spec.name.clone(),
                            have,
                            asked,
                        },
                        e,
                    ),
                    None => Error::jetstream(e),
                })?;
                info!(stream = spec.name, from_retention = ?retention, from_replicas = ?replicas, retention = ?spec.retention, replicas = asked, "updated JetStream stream");
                Ok(StreamChange::Updated {
                    retention,
                    replicas,
                })
            }
            Err(e) if is_not_found(e.kind()) => {
                js.create_stream(StreamConfig {
                    name: spec.name.clone(),
                    subjects: spec.subjects.clone(),
                    max_age: spec.retention,
                    num_replicas: spec.replicas.unwrap_or(1),
                    storage: StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(Error::jetstream)?;
                info!(stream = spec.name, retention = ?spec.retention, replicas = spec.replicas.unwrap_or(1), "created JetStream stream");
                Ok(StreamChange::Created)
            }
            Err(e) => Err(Error::jetstream(e)),
        }
    }

    /// The stream `name` as the server reports it; `None` when it does not exist.
    pub async fn stream_state(&self, name: &str) -> Result<Option<StreamState>, Error> {
        let js = self.jetstream()?;
        let mut stream = match js.get_stream(name).await {
            Ok(stream) => stream,
            Err(e) if is_not_found(e.kind()) => return Ok(None),
            Err(e) => return Err(Error::jetstream(e)),
        };
        let info = stream.info().await.map_err(Error::jetstream)?;
        let held = info.state.messages > 0;
        let time = |at: time::OffsetDateTime| held.then(|| SystemTime::from(at));
        Ok(Some(StreamState {
            name: info.config.name.clone(),
            subjects: info.config.subjects.clone(),
            retention: info.config.max_age,
            replicas: info.config.num_replicas,
            storage: match info.config.storage {
                StorageType::File => "file",
                StorageType::Memory => "memory",
            },
            messages: info.state.messages,
            last_sequence: info.state.last_sequence,
            bytes: info.state.bytes,
            first: time(info.state.first_timestamp),
            last: time(info.state.last_timestamp),
            consumers: info.state.consumer_count,
        }))
    }

    /// The object store `bucket`, made when missing (described by `description`) with as many
    /// replicas as [`EVENTS_STREAM`](crate::EVENTS_STREAM) has: what it keeps is as safe as the
    /// events it was made from.
    pub async fn object_store(
        &self,
        bucket: &str,
        description: &str,
    ) -> Result<async_nats::jetstream::object_store::ObjectStore, Error> {
        let js = self.jetstream()?;
        let replicas = self.events_replicas().await?;
        if let Ok(store) = js.get_object_store(bucket).await {
            self.raise_replicas(&format!("OBJ_{bucket}"), replicas)
                .await;
            return Ok(store);
        }
        let store = js
            .create_object_store(async_nats::jetstream::object_store::Config {
                bucket: bucket.to_owned(),
                description: Some(description.to_owned()),
                num_replicas: replicas,
                storage: StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(Error::jetstream)?;
        info!(bucket, replicas, "created JetStream object store");
        Ok(store)
    }

    /// The key-value bucket `config` describes, made when missing with as many replicas as
    /// [`EVENTS_STREAM`](crate::EVENTS_STREAM) has (an election must survive what the events
    /// survive); an existing bucket with fewer is raised to as many, or a warning says why not.
    pub async fn key_value(
        &self,
        mut config: async_nats::jetstream::kv::Config,
    ) -> Result<async_nats::jetstream::kv::Store, Error> {
        let js = self.jetstream()?;
        let replicas = self.events_replicas().await?;
        if let Ok(store) = js.get_key_value(&config.bucket).await {
            self.raise_replicas(&format!("KV_{}", config.bucket), replicas)
                .await;
            return Ok(store);
        }
        config.num_replicas = replicas;
        let bucket = config.bucket.clone();
        let store = js
            .create_key_value(config)
            .await
            .map_err(Error::jetstream)?;
        info!(bucket, replicas, "created JetStream key-value bucket");
        Ok(store)
    }

    /// How many replicas [`EVENTS_STREAM`](crate::EVENTS_STREAM) has; 1 when it does not exist.
    async fn events_replicas(&self) -> Result<usize, Error> {
        Ok(match self.stream_state(crate::EVENTS_STREAM).await? {
            Some(events) => events.replicas.max(1),
            None => 1,
        })
    }

    /// Raises the stream `name` (a bucket's) to `replicas` when it has fewer; a failure is
    /// warned about, the bucket being usable as it is.
    async fn raise_replicas(&self, name: &str, replicas: usize) {
        let Ok(js) = self.jetstream() else { return };
        let Ok(mut stream) = js.get_stream(name).await else {
            return;
        };
        let Ok(info) = stream.info().await else {
            return;
        };
        let have = info.config.num_replicas.max(1);
        if have >= replicas {
            return;
        }
        let mut config = info.config.clone();
        config.num_replicas = replicas;
        match js.update_stream(config).await {
            Ok(_) => info!(
                stream = name,
                from = have,
                to = replicas,
                "raised the replicas of a bucket to the events stream's"
            ),
            Err(e) => {
                tracing::warn!(stream = name, have, wanted = replicas, error = %e, "cannot raise the replicas of a bucket to the events stream's")
            }
        }
    }

    /// The stream `name`; [`ErrorKind::StreamNotFound`] when it does not exist.
    pub(crate) async fn existing_stream(
        &self,
        name: &str,
    ) -> Result<async_nats::jetstream::stream::Stream, Error> {
        self.jetstream()?.get_stream(name).await.map_err(|e| {
            if is_not_found(e.kind()) {
                Error::new(ErrorKind::StreamNotFound(name.to_owned()))
            } else {
                Error::jetstream(e)
            }
        })
    }

    /// The JetStream context, or why there is none.
    pub(crate) fn jetstream(&self) -> Result<async_nats::jetstream::Context, Error> {
        if !self.has_jetstream() {
            return Err(Error::new(ErrorKind::JetStreamUnavailable));
        }
        self.require("JetStream", crate::JETSTREAM_MIN_VERSION)?;
        Ok(async_nats::jetstream::new(self.client.clone()))
    }
}

/// Whether a stream lookup failed because the stream does not exist.
fn is_not_found(kind: GetStreamErrorKind) -> bool {
    matches!(kind, GetStreamErrorKind::JetStream(e)
        if e.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND)
}
