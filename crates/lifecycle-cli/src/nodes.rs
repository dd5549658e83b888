//! `lifecycle nodes`: the nodes a tally knows, or a replay of CHORIA_EVENTS shows, that a
//! filter selects.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use lifecycle_core::Filter;
use lifecycle_core::duration::Since;
use lifecycle_core::selection::StateSelection;
use lifecycle_nats::Shutdown;
use lifecycle_watch::{TallyClient, write_nodes};

use crate::connect::ConnectArgs;
use crate::duration;

/// List nodes and the versions they run: those a running tally knows (--tally), or those a
/// replay of CHORIA_EVENTS shows (--since, default 1h), that --filter selects.
///
/// The filter language is evaluated on each node's latest state as an alive event: identity,
/// component, version, timestamp and last_seen (when last seen, unix seconds) and state (up,
/// or lost: stopped reporting without a shutdown, which only a tally knows). A replay keeps
/// each component's latest startup, alive or upgraded event, as the tally does, and forgets
/// it on shutdown.
///
/// Prints a table (identity, component, version, last seen in UTC, state), one JSON object
/// per line with --json, or just how many with --count.
///
/// Exits 0 once listed, 1 when the replay has not caught up by --timeout, 2 on a usage,
/// connection or tally error, 130 on Ctrl-C (SIGINT) and 143 on SIGTERM before it caught up.
///
/// Examples:
///   lifecycle nodes --tally http://tally.example.net:9090 --filter 'component=server,.version<0.30.0'
///   lifecycle nodes --tally http://tally.example.net:9090 --state lost --json
///   lifecycle nodes --since 2h --filter component=server --count
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Ask this tally (http://host:port) instead of replaying CHORIA_EVENTS.
    #[arg(long, value_name = "URL")]
    tally: Option<String>,

    /// Filter expression on each node, e.g. 'component=server,.version<0.30.0'.
    #[arg(long, short = 'f', value_name = "EXPR", default_value = "", value_parser = crate::view::filter)]
    filter: String,

    /// Which nodes: up, lost (a tally's only) or all.
    #[arg(long, value_name = "STATE", default_value = "up", value_parser = ["up", "lost", "all"])]
    state: String,

    /// One JSON object per node and line.
    #[arg(long, conflicts_with = "count")]
    json: bool,

    /// Print only how many nodes.
    #[arg(long)]
    count: bool,

    /// Without --tally: replay this far back (e.g. 2h), or from an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIME", default_value = "1h", value_parser = duration::parse_since, conflicts_with = "tally")]
    since: Since,

    /// Give up (exit 1) when the replay has not caught up after this long.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    timeout: Option<Duration>,

    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = Filter::parse(&args.filter)?;
    let state: StateSelection = args.state.parse()?;
    let runtime = crate::connect::runtime()?;
    let nodes = match &args.tally {
        Some(url) => {
            let tally = TallyClient::new(url)?;
            runtime.block_on(tally.nodes(&args.filter, state))?
        }
        None => {
            if state == StateSelection::Lost {
                bail!("a replay knows no lost nodes: --state lost needs --tally");
            }
            let replay = async {
                let shutdown = Shutdown::install();
                let connection = args.connect.connect().await?;
                let stop = shutdown.requested();
                let nodes = lifecycle_watch::replay_nodes(
                    &connection,
                    &filter,
                    args.since,
                    args.timeout,
                    stop,
                )
                .await?;
                anyhow::Ok(nodes.map_err(|stop| crate::status(stop, &shutdown)))
            };
            match runtime.block_on(replay)? {
                Ok(nodes) => nodes,
                Err(status) => {
                    eprintln!("lifecycle: the replay did not catch up");
                    return Ok(ExitCode::from(status));
                }
            }
        }
    };
    if args.count {
        println!("{}", nodes.len());
    } else {
        let nodes = nodes.iter().collect::<Vec<_>>();
        write_nodes(&mut io::stdout().lock(), &nodes, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}
