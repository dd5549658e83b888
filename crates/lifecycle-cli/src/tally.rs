//! `lifecycle tally`: count which nodes run which version, as Prometheus metrics and a JSON API.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use lifecycle_nats::{Settings, Shutdown};
use lifecycle_tally::{
    DEFAULT_MAX_COMPONENTS, DEFAULT_MAX_LOST, DEFAULT_MAX_VERSIONS, DEFAULT_PREFIX, Limits,
    Service, Tally, TallyOptions, snapshot_name,
};

use crate::connect::ConnectArgs;
use crate::duration;

/// Count the fleet: nodes per component and version, from lifecycle events.
///
/// Serves HTTP from the start, whatever the broker: /metrics (Prometheus), /healthz
/// (liveness), /readyz (200 once connected and caught up, else 503 with the reason),
/// /api/v1/status, /api/v1/components (the biggest component first),
/// /api/v1/nodes?component=&version=&state=up|lost|all&filter=EXPR&limit=&cursor= (a page
/// of nodes at a time), the live feed and a dashboard. It connects in the background,
/// retrying until the broker answers. When the server keeps the CHORIA_EVENTS stream, the
/// tally loads its snapshot (--snapshot, kept in the JetStream object store LIFECYCLE_TALLY,
/// written every --snapshot-interval and at a clean stop) and replays what the stream holds
/// after it, or without one the last --max-age of the stream, so counts are right from the
/// first scrape. A snapshot that cannot be trusted is ignored with a warning.
///
/// Liveness is judged by when the broker received a node's last event (the stream's time),
/// not by the node's own clock, which is only shown.
///
/// A node not seen for --max-age without a shutdown is lost: kept (lifecycle_tally_lost_nodes,
/// /api/v1/nodes?state=lost) for --lost-retention, up again when it reports. A version
/// whose last node left reads 0 for --max-age, then its series goes.
///
/// Events naming no node or no component, and those past --max-components or
/// --max-versions, are not counted: lifecycle_tally_refused_total counts them by reason,
/// and a warning with the totals is logged at most once a minute.
///
/// Runs until Ctrl-C (SIGINT) or SIGTERM, then stops cleanly (writes its snapshot, hands
/// its leadership over) and exits 0; 2 on a usage error.
///
/// Examples:
///   lifecycle tally --component server
///   lifecycle tally --port 9000 --election tally
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// A component to count (repeatable); none counts every component.
    #[arg(long = "component", value_name = "NAME")]
    components: Vec<String>,

    /// Nodes not seen for this long expire (those that did not shut down are lost).
    #[arg(long, value_name = "DURATION", default_value = "80m", value_parser = duration::parse)]
    max_age: Duration,

    /// Lost nodes are kept this long, then forgotten.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration::parse)]
    lost_retention: Duration,

    /// Most lost nodes kept; past it those lost longest ago are forgotten first (0: none).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LOST)]
    max_lost: usize,

    /// Most components counted; events of further components are refused.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_COMPONENTS as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    max_components: u16,

    /// Most versions one component may run at once; events that would make more are refused.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_VERSIONS as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    max_versions: u16,

    /// Prefix of the metric names.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    prefix: String,

    /// Address to serve HTTP on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Port to serve HTTP on, keeping --listen's address.
    #[arg(long)]
    port: Option<u16>,

    /// A client has this long to send a request's head (new or idle connection), then the
    /// connection is closed [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    http_header_timeout: Option<Duration>,

    /// A request has this long to be answered, then it gets 503; the event feed streams on
    /// [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    http_request_timeout: Option<Duration>,

    /// HTTP connections served at once; more wait until one closes [default: 512].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    http_max_connections: Option<u32>,

    /// Campaign for leadership in this election with the other tallies; only the leader's
    /// metrics say active="1". Without it this tally is always active. Needs nats-server
    /// 2.10 or later.
    #[arg(long, value_name = "NAME")]
    election: Option<String>,

    /// The name this tally's snapshot is kept under: tallies counting the same components
    /// may share one (a leader and its standbys do), others need their own [default: the
    /// --election name, else "tally"].
    #[arg(long, value_name = "NAME", conflicts_with = "no_snapshot")]
    snapshot: Option<String>,

    /// Keep no snapshot: a start replays the last --max-age of the stream.
    #[arg(long)]
    no_snapshot: bool,

    /// How often the leader writes the snapshot.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration::parse_nonzero)]
    snapshot_interval: Duration,

    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut listen = args.listen;
    if let Some(port) = args.port {
        listen.set_port(port);
    }
    let mut options = args.connect.options()?;
    options.name = Some("lifecycle tally".to_owned());
    // A configuration at fault is told at once; a broker that does not answer is waited for.
    let settings = Settings::resolve(&options)?;
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let shutdown = Shutdown::install();
        let tally = Tally::new(TallyOptions {
            components: args.components.iter().cloned().collect(),
            max_age: args.max_age,
            lost_retention: args.lost_retention,
            max_lost: args.max_lost,
            max_components: args.max_components.into(),
            max_versions: args.max_versions.into(),
            snapshot: (!args.no_snapshot)
                .then(|| snapshot_name(args.snapshot.as_deref(), args.election.as_deref())),
            snapshot_interval: args.snapshot_interval,
            ..Default::default()
        });

        let defaults = Limits::default();
        let limits = Limits {
            header_read_timeout: args
                .http_header_timeout
                .unwrap_or(defaults.header_read_timeout),
            request_timeout: args
                .http_request_timeout
                .unwrap_or(defaults.request_timeout),
            max_connections: args
                .http_max_connections
                .map_or(defaults.max_connections, |n| n as usize),
            ..defaults
        };
        let service = Service {
            listen,
            prefix: args.prefix.clone(),
            limits,
            election: args.election.clone(),
        };
        let serving = |address| eprintln!("lifecycle tally: serving http://{address}/metrics");
        service.run(tally, &settings, &shutdown, serving).await?;
        Ok(ExitCode::SUCCESS)
    })
}
