//! `lifecycle nodes`: the nodes a tally knows, or a replay of CHORIA_EVENTS shows, that a
//! filter selects; and printing nodes, for `wait` too.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use lifecycle_core::duration::Since;
use lifecycle_core::selection::StateSelection;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_core::{Filter, format_utc};
use lifecycle_nats::Shutdown;
use lifecycle_watch::{Node, TallyClient};

use crate::connect::ConnectArgs;
use crate::duration;
use crate::output;

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
        print(&nodes.iter().collect::<Vec<_>>(), args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints nodes on stdout: a table, or one JSON object per line. `Ok(false)` when stdout was
/// closed by its reader.
pub(crate) fn print(nodes: &[&Node], json: bool) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    if json {
        for node in nodes {
            if !output::line(&mut out, &serde_json::to_vec(node)?)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let header = ["IDENTITY", "COMPONENT", "VERSION", "LAST SEEN", "STATE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = nodes
        .iter()
        .map(|node| {
            [
                TerminalSafe(&node.identity).to_string(),
                TerminalSafe(&node.component).to_string(),
                TerminalSafe(&node.version).to_string(),
                last_seen(node.last_seen),
                node.state.to_string(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        if !output::line(&mut out, line.as_bytes())? {
            return Ok(false);
        }
    }
    out.flush().ok();
    Ok(true)
}

/// `2023-11-14 22:13:20 UTC`; the unix seconds when the year cannot be written.
fn last_seen(unix: i64) -> String {
    match format_utc(unix) {
        Some(rfc3339) => format!("{} UTC", rfc3339.trim_end_matches('Z').replace('T', " ")),
        None => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_is_utc_with_its_zone() {
        assert_eq!(last_seen(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(last_seen(i64::MAX), i64::MAX.to_string());
    }
}
