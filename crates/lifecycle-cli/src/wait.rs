//! `lifecycle wait`: block until enough matching events were seen.

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use lifecycle_core::{Filter, Progress, Since};

use crate::connect::ConnectArgs;
use crate::duration;
use crate::watch::{Events, INTERRUPTED, Stop};

/// Wait until N matching events, or N distinct identities, were seen.
///
/// Exits 0 as soon as the condition is met, 1 when the timeout passes first, 2 on a usage
/// or connection error (130 on Ctrl-C). With --since, events already kept in JetStream
/// count, so a wait started after the fleet finished still succeeds. Progress goes to
/// stderr when it is a terminal.
///
/// Examples:
///   # 50 distinct servers report version 0.29.4 within 10 minutes
///   lifecycle wait --filter 'alive,startup,component=server,version=0.29.4' \
///       --count 50 --distinct identity --timeout 10m --since 1h
///   lifecycle wait --filter 'provisioned,identity=node1.example.net' --timeout 5m
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Filter expression the events must pass.
    #[arg(long, short = 'f', value_name = "EXPR", value_parser = crate::view::filter)]
    filter: String,

    /// How many events (or identities, with --distinct identity) to wait for.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1)]
    count: u64,

    /// Count each identity once.
    #[arg(long, value_name = "FIELD", value_parser = ["identity"])]
    distinct: Option<String>,

    /// Give up (exit 1) after this long, e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    timeout: Option<Duration>,

    /// Count events from this far back in JetStream too (e.g. 1h), or from an RFC 3339
    /// time (2026-11-30T10:00:00Z).
    #[arg(long, value_name = "DURATION|TIME", value_parser = duration::parse_since)]
    since: Option<Since>,

    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = Filter::parse(&args.filter)?;
    let mut progress = match args.distinct {
        Some(_) => Progress::distinct_identities(args.count),
        None => Progress::events(args.count),
    };
    let show = io::stderr().is_terminal();
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let mut events = Events::open(&connection, filter, args.since, args.timeout).await?;
        while !progress.is_met() {
            match events.next().await {
                Ok(received) => {
                    if progress.record(received.parsed.event()) && show {
                        eprint!("\r{progress}");
                    }
                }
                Err(stop) => {
                    if show {
                        eprintln!();
                    }
                    eprintln!("lifecycle: condition not met: {progress}");
                    return Ok(ExitCode::from(match stop {
                        Stop::Interrupted => INTERRUPTED,
                        Stop::Timeout | Stop::Closed => 1,
                    }));
                }
            }
        }
        if show {
            eprintln!();
        }
        Ok(ExitCode::SUCCESS)
    })
}
