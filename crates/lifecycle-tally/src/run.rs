//! A tally as a daemon: it connects to its broker in the background, retrying for as long as
//! it takes, and keeps counting whatever the broker does, so its HTTP side (served from the
//! start) can always say how it is.

use std::future::Future;
use std::time::Duration;

use lifecycle_nats::{
    Connection, Error as NatsError, ErrorKind, JETSTREAM_MIN_VERSION, Recurring, Settings,
};

use crate::error::Error;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::election::Election;
use crate::tally::Tally;

/// The first wait between connection attempts; it doubles up to [`MOST_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);

/// The longest wait between connection attempts: a broker that comes back is found within
/// this.
const MOST_RETRY_DELAY: Duration = Duration::from_secs(2);

/// How long the snapshot written at a clean stop may take.
const FINAL_SNAPSHOT_WITHIN: Duration = Duration::from_secs(30);

/// How long to wait before subscribing again, or campaigning again, after a failure.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Whether connecting may succeed later: a broker that is down, or refuses credentials that
/// may be granted. A configuration at fault (an unreadable credentials file, a bad URL) is
/// not retried.
fn worth_retrying(error: &NatsError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Connect { .. } | ErrorKind::Unauthorized { .. }
    )
}

/// Waits `delay`, or less when `stopped` turns true; returns whether it did.
async fn pause(delay: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    let stopped_meanwhile = tokio::select! {
        _ = stopped.wait_for(|&s| s) => true,
        () = tokio::time::sleep(delay) => false,
    };
    stopped_meanwhile || *stopped.borrow()
}

impl Tally {
    /// Counts events from the broker `settings` name until `shutdown` completes, whatever the
    /// broker does: connects in the background, retrying (and warning once per
    /// [`WARNING_INTERVAL`](lifecycle_nats::WARNING_INTERVAL) which servers it tried and
    /// why it failed), then [ingests](Tally::ingest), subscribing again after a failure.
    /// [`Tally::readiness`] says meanwhile what it waits for.
    ///
    /// With an `election`, it campaigns once connected and leads only while it wins
    /// ([`Metrics::set_active`](crate::Metrics::set_active)); without, it always leads.
    ///
    /// Fails only when the settings cannot work (a credentials file that cannot be read, say).
    pub async fn run(
        &self,
        settings: &Settings,
        election: Option<Election>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        if election.is_none() {
            self.metrics().set_active(true);
        }
        let servers: Vec<String> = settings.servers.iter().map(ToString::to_string).collect();
        self.health.set_servers(servers.join(", "));
        let (stop, stopped) = watch::channel(false);
        let work = async {
            let Some(connection) = self.connect(settings, stopped.clone()).await? else {
                return Ok(None);
            };
            let server = connection.client().server_info();
            info!(servers = ?servers, server = %server.server_name, version = %server.version, "connected to the NATS broker");
            // An old server is named now, not met later as a decoding error retried for ever.
            if election.is_some() {
                connection.require("--election", JETSTREAM_MIN_VERSION)?;
            }
            if connection.has_jetstream() {
                connection.require("the tally's replay and snapshots", JETSTREAM_MIN_VERSION)?;
            }
            let campaign = async {
                if let Some(election) = &election {
                    self.campaign(election, &connection, stopped.clone()).await;
                }
            };
            tokio::join!(
                self.keep_ingesting(&connection, stopped.clone()),
                campaign,
                self.keep_snapshots(&connection, stopped.clone()),
            );
            Ok::<_, Error>(Some(connection))
        };
        let mut work = std::pin::pin!(work);
        tokio::select! {
            result = &mut work => return result.map(drop),
            () = shutdown => {}
        }
        // Whether it leads is read before the election hears of the stop and steps down.
        let leading = self.metrics().is_active();
        let _ = stop.send(true);
        if let Some(connection) = work.await? {
            if leading && self.is_ready() {
                self.final_snapshot(&connection).await;
            }
        }
        Ok(())
    }

    /// Writes the snapshot every [`TallyOptions::snapshot_interval`](crate::TallyOptions)
    /// while this tally leads and its counts are current, until `stopped` turns true.
    async fn keep_snapshots(&self, connection: &Connection, mut stopped: watch::Receiver<bool>) {
        if self.options().snapshot.is_none() {
            return;
        }
        let mut failures = Recurring::new("cannot write the tally's snapshot, trying again later");
        let mut saved = None;
        loop {
            if pause(self.options().snapshot_interval, &mut stopped).await {
                return;
            }
            let sequence = self
                .last_sequence
                .load(std::sync::atomic::Ordering::Relaxed);
            if !self.metrics().is_active() || !self.is_ready() || saved == Some(sequence) {
                continue;
            }
            match self.save_snapshot(connection).await {
                Ok(written) => saved = written.map(|w| w.sequence),
                Err(e) => failures.record(lifecycle_core::ErrorChain(&e)),
            }
        }
    }

    /// The snapshot written once more as the tally stops cleanly, so its successor replays
    /// little; bounded, so a broker gone meanwhile does not hold up the stop.
    async fn final_snapshot(&self, connection: &Connection) {
        match tokio::time::timeout(FINAL_SNAPSHOT_WITHIN, self.save_snapshot(connection)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(
                "cannot write the tally's snapshot as it stops: {}",
                lifecycle_core::ErrorChain(&e)
            ),
            Err(_) => warn!(
                within = ?FINAL_SNAPSHOT_WITHIN,
                "cannot write the tally's snapshot as it stops: the broker did not take it in time"
            ),
        }
    }

    /// Connects, retrying until it succeeds or `stopped` turns true (`None`).
    async fn connect(
        &self,
        settings: &Settings,
        mut stopped: watch::Receiver<bool>,
    ) -> Result<Option<Connection>, Error> {
        // Retried here, where each failure is told and seen by /readyz, rather than inside
        // async-nats, where it is not.
        let settings = Settings {
            retry_initial_connect: false,
            ..settings.clone()
        };
        let mut failures = Recurring::new("cannot reach the NATS broker, still trying");
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let attempt = tokio::select! {
                _ = stopped.wait_for(|&s| s) => return Ok(None),
                attempt = Connection::connect(&settings) => attempt,
            };
            match attempt {
                Ok(connection) => {
                    failures.flush();
                    return Ok(Some(connection));
                }
                Err(e) if worth_retrying(&e) => {
                    self.health
                        .unreachable(lifecycle_core::ErrorChain(&e).to_string());
                    failures.record(lifecycle_core::ErrorChain(&e));
                }
                Err(e) => return Err(e.into()),
            }
            if pause(delay, &mut stopped).await {
                return Ok(None);
            }
            delay = (delay * 2).min(MOST_RETRY_DELAY);
        }
    }

    /// Ingests until `stopped` turns true, subscribing again after each failure.
    async fn keep_ingesting(&self, connection: &Connection, mut stopped: watch::Receiver<bool>) {
        let mut failures = Recurring::new("counting events failed, subscribing again");
        loop {
            let until = {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|&s| s).await;
                }
            };
            match self.ingest(connection, until).await {
                Ok(()) => return,
                Err(e) => {
                    // Until counting resumes, /readyz says why it stopped.
                    self.health
                        .stalled(lifecycle_core::ErrorChain(&e).to_string());
                    failures.record(lifecycle_core::ErrorChain(&e));
                }
            }
            self.set_ready(false);
            if pause(RESTART_DELAY, &mut stopped).await {
                return;
            }
        }
    }

    /// Campaigns in `election` until `stopped` turns true, campaigning again after each
    /// failure (the broker gone when the campaign starts, say); not the leader meanwhile.
    async fn campaign(
        &self,
        election: &Election,
        connection: &Connection,
        mut stopped: watch::Receiver<bool>,
    ) {
        info!(election = %election.name(), bound = ?election.bound(), "campaigning for leadership");
        let metrics = self.metrics().clone();
        let mut failures = Recurring::new("cannot campaign for leadership, trying again");
        loop {
            let until = {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|&s| s).await;
                }
            };
            match election
                .run(connection, |leader| metrics.set_active(leader), until)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    metrics.set_active(false);
                    failures.record(format_args!(
                        "election {}: {}",
                        election.name(),
                        lifecycle_core::ErrorChain(&e)
                    ));
                }
            }
            if pause(RESTART_DELAY, &mut stopped).await {
                return;
            }
        }
    }
}
