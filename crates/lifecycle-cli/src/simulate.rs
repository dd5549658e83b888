//! `lifecycle simulate`: a simulated fleet, published to NATS or counted by a tally in process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use lifecycle_core::Format;
use lifecycle_demo::count_in_process;
use lifecycle_nats::Shutdown;
use lifecycle_simulate::{FleetSpec, RunOptions, Simulation, Stats, Upgrade, VersionShare};
use lifecycle_tally::ComponentCount;

use crate::connect::ConnectArgs;
use crate::duration;

/// Simulate a fleet: a startup storm, alives spread over the interval, restarts and a
/// rolling upgrade, published to NATS (or, with --tally, counted in process without a
/// broker).
///
/// Shows progress on stderr; at the end prints the fleet it simulated to stdout in the shape
/// of a tally's /api/v1/components, so the two can be compared.
///
/// Runs for --duration, or until Ctrl-C (SIGINT) or SIGTERM (sending the shutdowns first
/// with --shutdown); either way it prints the fleet and exits 0, or 1 when events could not
/// be published; 2 on a usage or connection error.
///
/// Examples:
///   lifecycle simulate --nodes 50000 --versions 0.28.0:30,0.29.4:70 --duration 1m
///   lifecycle simulate --nodes 5000 --upgrade-to 0.30.0 --upgrade-rate 50 --alive-interval 30s
///   lifecycle simulate --nodes 100000 --rate 20000 --restart-rate 10 --format cloudevents
///   lifecycle simulate --nodes 2000 --tally --listen 127.0.0.1:8080
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Nodes in the fleet; each runs every component.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,

    /// Components each node runs.
    #[arg(long, value_delimiter = ',', default_value = "server")]
    components: Vec<String>,

    /// Versions the fleet starts on, each with its weight (VERSION:WEIGHT, comma list).
    #[arg(long, value_delimiter = ',', default_value = "0.29.4")]
    versions: Vec<VersionShare>,

    /// Each node sends an alive this often, the fleet's alives spread evenly over it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration::parse)]
    alive_interval: Duration,

    /// At most this many events a second (default: as fast as they are taken).
    #[arg(long, value_name = "EVENTS_PER_SECOND")]
    rate: Option<f64>,

    /// Roll an upgrade to this version through the fleet after the startup storm.
    #[arg(long, value_name = "VERSION")]
    upgrade_to: Option<String>,

    /// Nodes upgraded per second.
    #[arg(
        long,
        value_name = "NODES_PER_SECOND",
        default_value_t = 10.0,
        requires = "upgrade_to"
    )]
    upgrade_rate: f64,

    /// Restarts per second: a shutdown, then a startup two seconds later.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0.0)]
    restart_rate: f64,

    /// Wire format: choria or cloudevents.
    #[arg(long, default_value = "choria", value_parser = crate::values::format())]
    format: Format,

    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    duration: Option<Duration>,

    /// When stopping, every node sends its shutdown first.
    #[arg(long)]
    shutdown: bool,

    /// Seed of the random choices, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Count the fleet in a tally in this process instead of publishing: no broker needed.
    /// Serves the tally's dashboard and API on --listen.
    #[arg(long)]
    tally: bool,

    /// Address the in-process tally serves HTTP on (with --tally).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        requires = "tally"
    )]
    listen: SocketAddr,

    #[command(flatten)]
    connect: ConnectArgs,
}

impl Args {
    fn spec(&self) -> FleetSpec {
        FleetSpec {
            nodes: self.nodes,
            components: self.components.clone(),
            versions: self.versions.clone(),
            alive_interval: self.alive_interval,
            upgrade: self.upgrade_to.as_ref().map(|to| Upgrade {
                to: to.clone(),
                per_second: self.upgrade_rate,
            }),
            restart_rate: self.restart_rate,
            seed: self.seed,
        }
    }

    fn run_options(&self) -> RunOptions {
        RunOptions {
            rate: self.rate,
            duration: self.duration,
            shutdown_at_end: self.shutdown,
        }
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Refused before connecting, rather than once connected.
    let options = args.run_options();
    options.validate()?;
    let mut simulation = Simulation::new(args.spec())?;
    let runtime = crate::connect::runtime()?;
    let summary = runtime.block_on(async {
        let shutdown = Shutdown::install();
        let stop = || shutdown.requested();
        let stats = Arc::new(Stats::default());
        let verb = if args.tally { "counted" } else { "published" };
        let progress = progress(stats.clone(), verb);
        let summary = if args.tally {
            // Printed even when the progress line is hidden (stderr not a terminal).
            let listening = |address| {
                progress
                    .suspend(|| eprintln!("lifecycle simulate: dashboard at http://{address}/"));
            };
            let counted = count_in_process(
                &mut simulation,
                &options,
                &stats,
                args.listen,
                stop(),
                listening,
            );
            counted.await?
        } else {
            let connection = args.connect.connect().await?;
            let mut publisher = connection.publisher(args.format);
            lifecycle_simulate::run(&mut simulation, &mut publisher, &options, &stats, stop())
                .await?
        };
        progress.finish_and_clear();
        anyhow::Ok(summary)
    })?;
    eprintln!(
        "lifecycle simulate: sent {} events in {:.1?} ({:.0}/s), {} errors",
        summary.sent,
        summary.elapsed,
        summary.rate(),
        summary.errors
    );
    println!(
        "{}",
        serde_json::to_string(&ComponentCount::list(simulation.counts()))
            .context("cannot write the fleet")?
    );
    Ok(if summary.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A progress line on stderr (hidden when stderr is not a terminal): events published (or
/// counted), rate, errors.
fn progress(stats: Arc<Stats>, verb: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let tick = bar.clone();
    tokio::spawn(async move {
        let mut last = (std::time::Instant::now(), 0);
        let mut interval = tokio::time::interval(Duration::from_millis(250));
        while !tick.is_finished() {
            interval.tick().await;
            let (sent, now) = (stats.sent(), std::time::Instant::now());
            let rate = (sent - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            last = (now, sent);
            tick.set_message(format!(
                "{verb} {sent}  {rate:.0}/s  errors {}",
                stats.errors()
            ));
            tick.tick();
        }
    });
    bar
}
