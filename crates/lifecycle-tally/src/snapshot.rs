//! Where a tally keeps its snapshots: a JetStream object store, replicated as the events
//! stream is. A starting tally loads its snapshot and replays only what the stream holds
//! after it; a running one writes it every [`TallyOptions::snapshot_interval`] and when it
//! stops cleanly. A snapshot that cannot be trusted (corrupt, another format, another
//! tally's, too large, newer than the stream) is ignored with a warning, and the tally
//! replays as it would without one.

use async_nats::jetstream::object_store::{ObjectMetadata, ObjectStore};
use futures_util::StreamExt;
use lifecycle_nats::{Connection, EVENTS_STREAM, Error as NatsError};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

use crate::error::{Error, SnapshotProblem};
use crate::snapshot_format::{Decoder, Encoder};
pub use crate::snapshot_format::{SNAPSHOT_FORMAT, SnapshotInfo};
use crate::tally::Tally;

/// The object store bucket tallies keep their snapshots in.
pub const SNAPSHOT_BUCKET: &str = "LIFECYCLE_TALLY";

/// Bytes per chunk of the object store: fewer round trips than its default of 128 KiB,
/// well under a server's default message limit of 1 MiB.
const CHUNK_SIZE: usize = 512 * 1024;

/// Slab positions written per lock of the fleet, as a listing walks it.
const WALK_STEP: usize = 16 * 1024;

/// Why loading a snapshot failed: the store, or the snapshot itself.
#[derive(Debug)]
enum LoadError {
    Store(NatsError),
    Snapshot(Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Store(e) => write!(
                f,
                "cannot read the snapshot: {}",
                lifecycle_core::ErrorChain(e)
            ),
            LoadError::Snapshot(e) => e.fmt(f),
        }
    }
}

/// The chunks of the object `nuid`, pulled one at a time: the object store's own reader has
/// the server push them all at once, and holds the whole snapshot in memory beside the fleet
/// it becomes.
async fn chunks(
    connection: &Connection,
    nuid: &str,
) -> Result<async_nats::jetstream::consumer::pull::Ordered, NatsError> {
    let js = async_nats::jetstream::new(connection.client().clone());
    let stream = js
        .get_stream(format!("OBJ_{SNAPSHOT_BUCKET}"))
        .await
        .map_err(NatsError::jetstream)?;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("$O.{SNAPSHOT_BUCKET}.C.{nuid}"),
            max_batch: 1,
            ..Default::default()
        })
        .await
        .map_err(NatsError::jetstream)?;
    consumer.messages().await.map_err(NatsError::jetstream)
}

async fn store(connection: &Connection) -> Result<ObjectStore, NatsError> {
    connection
        .object_store(SNAPSHOT_BUCKET, "snapshots of lifecycle tallies")
        .await
}

impl Tally {
    /// The component filter snapshots are written for and checked against.
    fn snapshot_filter(&self) -> Vec<String> {
        self.options().components.iter().cloned().collect()
    }

    /// Loads this tally's snapshot when it has one (and a name to keep it under) that can be
    /// trusted; returns the stream sequence it covers, from which the replay goes on. Any
    /// failure is warned about and leaves the fleet as it was (empty, at a start).
    pub(crate) async fn load_snapshot(&self, connection: &Connection) -> Option<u64> {
        let name = self.options().snapshot.clone()?;
        self.health.loading_snapshot(true);
        let loaded = self.read_snapshot(connection, &name).await;
        self.health.loading_snapshot(false);
        match loaded {
            Ok(None) => {
                info!(snapshot = %name, "no snapshot yet: replaying the stream");
                None
            }
            Ok(Some(sequence)) => Some(sequence),
            Err(e) => {
                warn!(snapshot = %name, "{e}: ignored, replaying the stream instead");
                None
            }
        }
    }

    async fn read_snapshot(
        &self,
        connection: &Connection,
        name: &str,
    ) -> Result<Option<u64>, LoadError> {
        let started = std::time::Instant::now();
        let store = store(connection).await.map_err(LoadError::Store)?;
        let Ok(object) = store.info(name).await else {
            return Ok(None);
        };
        if object.deleted {
            return Ok(None);
        }
        let max = self.options().snapshot_max_size;
        let size = object.size as u64;
        if size > max {
            return Err(LoadError::Snapshot(
                SnapshotProblem::TooLarge { size, max }.into(),
            ));
        }
        let mut chunks = chunks(connection, &object.nuid)
            .await
            .map_err(LoadError::Store)?;
        let mut decoder = Decoder::new(&self.fleet(), &self.snapshot_filter(), size);
        let mut pending: Vec<u8> = Vec::new();
        let mut read = 0u64;
        for _ in 0..object.chunks {
            let chunk = match chunks.next().await {
                Some(Ok(message)) => message.message.payload,
                Some(Err(e)) => return Err(LoadError::Store(NatsError::jetstream(e))),
                None => break,
            };
            read += chunk.len() as u64;
            if read > max {
                return Err(LoadError::Snapshot(Error::from(
                    SnapshotProblem::TooLarge { size: read, max },
                )));
            }
            // Read from the chunk itself; only a record cut at its end is carried over.
            let rest = if pending.is_empty() {
                let used = decoder.feed(&chunk).map_err(LoadError::Snapshot)?;
                &chunk[used..]
            } else {
                pending.extend_from_slice(&chunk);
                let used = decoder.feed(&pending).map_err(LoadError::Snapshot)?;
                pending.drain(..used);
                &[][..]
            };
            pending.extend_from_slice(rest);
        }
        if !pending.is_empty() {
            return Err(LoadError::Snapshot(
                SnapshotProblem::Corrupt("it ends in the middle of a record".into()).into(),
            ));
        }
        let (fleet, snapshot) = decoder.finish().map_err(LoadError::Snapshot)?;
        // A snapshot past the stream's end was made from another stream (one deleted and
        // made again): its sequence means nothing here.
        let last = connection
            .stream_state(EVENTS_STREAM)
            .await
            .map_err(LoadError::Store)?
            .map_or(0, |state| state.last_sequence);
        if snapshot.sequence > last {
            return Err(LoadError::Snapshot(Error::from(SnapshotProblem::Corrupt(
                format!(
                    "it covers the stream up to sequence {}, and {EVENTS_STREAM} ends at {last} \
                 (a stream made again since)",
                    snapshot.sequence
                ),
            ))));
        }
        let nodes = fleet.len() + fleet.lost_len();
        *self.fleet() = fleet;
        info!(
            snapshot = %name,
            nodes,
            sequence = snapshot.sequence,
            written = snapshot.written,
            bytes = size,
            took = ?started.elapsed(),
            "warm start from the snapshot: replaying what the stream holds after it"
        );
        Ok(Some(snapshot.sequence))
    }

    /// Writes this tally's snapshot now: the fleet as counted up to the last stream
    /// sequence counted (and perhaps a little after). Returns what it wrote, `None` when the
    /// tally keeps no snapshot.
    pub async fn save_snapshot(
        &self,
        connection: &Connection,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let Some(name) = self.options().snapshot.clone() else {
            return Ok(None);
        };
        let store = store(connection).await?;
        let sequence = self
            .last_sequence
            .load(std::sync::atomic::Ordering::Relaxed);
        let written = (self.options().clock)();
        let filter = self.snapshot_filter();
        let (mut to_store, mut from_writer) = tokio::io::duplex(2 * CHUNK_SIZE);
        let write = async move {
            let mut encoder = Encoder::new(&self.fleet(), sequence, written, &filter);
            let mut at = 0;
            loop {
                let bytes = {
                    let fleet = self.fleet();
                    if at >= fleet.positions() {
                        break;
                    }
                    at = encoder.nodes(&fleet, at, at + WALK_STEP);
                    encoder.take()
                };
                to_store.write_all(&bytes).await?;
            }
            let nodes = encoder.written();
            let last = encoder.end(&self.fleet());
            to_store.write_all(&last).await?;
            to_store.shutdown().await?;
            Ok::<_, std::io::Error>(nodes)
        };
        let meta = ObjectMetadata {
            name: name.clone(),
            description: Some(format!(
                "lifecycle tally snapshot, format {SNAPSHOT_FORMAT}, covering {EVENTS_STREAM} \
                 up to sequence {sequence}"
            )),
            chunk_size: Some(CHUNK_SIZE),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let (written_nodes, put) = tokio::join!(write, store.put(meta, &mut from_writer));
        let object = put.map_err(NatsError::jetstream)?;
        let nodes = written_nodes.map_err(NatsError::jetstream)?;
        info!(
            snapshot = %name,
            nodes,
            sequence,
            bytes = object.size,
            took = ?started.elapsed(),
            "snapshot written"
        );
        Ok(Some(SnapshotInfo {
            sequence,
            written,
            nodes,
        }))
    }
}
