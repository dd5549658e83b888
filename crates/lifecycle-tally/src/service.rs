//! A tally as `lifecycle tally` runs it: served over HTTP from the start, then counting from
//! its broker until a stop, campaigning for leadership when it is one of several.

use std::net::SocketAddr;

use lifecycle_http::Limits;
use lifecycle_nats::{Settings, Shutdown};

use crate::election::{DEFAULT_ELECTION_TTL, Election};
use crate::error::{Error, ErrorKind};
use crate::http::serve_at;
use crate::tally::Tally;

/// The name a tally's snapshot is kept under: `snapshot` when given, else the `election`'s
/// name (a leader and its standbys share one), else `tally`.
pub fn snapshot_name(snapshot: Option<&str>, election: Option<&str>) -> String {
    snapshot.or(election).unwrap_or("tally").to_owned()
}

/// This candidate's name in an election: the host (`$HOSTNAME`, else `tally`) and the
/// process.
pub fn candidate_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "tally".to_owned());
    format!("{host}-{}", std::process::id())
}

/// How a tally is served and run ([`Service::run`]).
#[derive(Debug, Clone)]
pub struct Service {
    /// The address to serve HTTP on.
    pub listen: SocketAddr,
    /// The prefix of the metric names.
    pub prefix: String,
    /// What the HTTP side allows its clients.
    pub limits: Limits,
    /// The election to campaign in, when this tally is one of several.
    pub election: Option<String>,
}

impl Service {
    /// Serves `tally` before anything connects, so that `/readyz` says what it waits for;
    /// tells `serving` the address; then [runs](Tally::run) it on the broker `settings`
    /// name until `shutdown` asks to stop, campaigning in the election when named. Returns
    /// once the HTTP side has stopped too.
    pub async fn run(
        &self,
        tally: Tally,
        settings: &Settings,
        shutdown: &Shutdown,
        serving: impl FnOnce(SocketAddr),
    ) -> Result<(), Error> {
        let (listen, limits) = (self.listen, self.limits.clone());
        let (address, http) = serve_at(
            tally.clone(),
            listen,
            &self.prefix,
            limits,
            shutdown.requested(),
        )
        .await
        .map_err(|e| Error::with_source(ErrorKind::Listen(listen), e))?;
        serving(address);
        let election = self
            .election
            .as_ref()
            .map(|name| Election::new(name, DEFAULT_ELECTION_TTL, candidate_id()));
        tally.run(settings, election, shutdown.requested()).await?;
        match http.await {
            Ok(served) => served.map_err(|e| Error::with_source(ErrorKind::Serve, e)),
            Err(e) => Err(Error::with_source(ErrorKind::Serve, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_named_for_the_election_unless_named() {
        assert_eq!(snapshot_name(Some("mine"), Some("tally-a")), "mine");
        assert_eq!(snapshot_name(None, Some("tally-a")), "tally-a");
        assert_eq!(snapshot_name(None, None), "tally");
        assert!(candidate_id().ends_with(&format!("-{}", std::process::id())));
    }
}
