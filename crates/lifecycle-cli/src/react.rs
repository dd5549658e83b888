//! `lifecycle react`: run a program or call a webhook for each event a rule selects.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use lifecycle_core::duration::Since;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_deliver::Metrics;
use lifecycle_nats::{ErrorKind, ReplayFrom, Shutdown};
use lifecycle_react::{Options, Rules};
use prometheus_client::registry::Registry;

use crate::connect::ConnectArgs;
use crate::duration;

/// Act on events: for each event a rule's filter selects, run a program or POST a
/// CloudEvent to a webhook, at least once, in order per node.
///
/// The rules file (TOML) holds named rules, each a filter and one action:
///
///   [[rules]]
///   name = "provision"
///   filter = "startup,component=provision_mode_server"
///   exec = ["/usr/local/bin/provision", "--node", "{{ identity }}"]
///   concurrency = 10          # actions at once; one node's events always one at a time
///   max_attempts = 5          # then dead-letter (0: no limit)
///   timeout = "2m"            # the program and its process group are killed after this
///   dedupe = "10m"            # act at most once per node within this window
///   dead_letter = "lifecycle.dead.provision"
///
///   [[rules]]
///   name = "notify-cd"
///   filter = "upgraded,component=server"
///   http = { url = "https://cd.example.net/hooks/choria", mode = "structured" }
///
/// Each rule consumes the JetStream stream CHORIA_EVENTS with its own durable consumer,
/// NAME-<rule> (--durable NAME), and acknowledges an event only once its action succeeded
/// or it was dead-lettered: a restart or a crash loses nothing. Several processes with the
/// same --durable NAME share the events. Programs run without a shell: each argument is a
/// template rendered on its own (an identity like '$(rm -rf /)' stays one literal
/// argument); the event's JSON is on standard input and LIFECYCLE_TYPE, _IDENTITY,
/// _COMPONENT, _VERSION, _ID, _TIMESTAMP, _SUBJECT, _RULE and _ATTEMPT in the environment.
/// Exit status 0 is success, 65 a permanent failure (dead-lettered at once), any other a
/// failure retried with backoff.
///
/// Runs until Ctrl-C (SIGINT) or SIGTERM, then gives running actions --grace to finish and
/// exits 0 (events not settled come back after --ack-wait); 2 on a usage or connection
/// error. --check exits 0 or 1.
///
/// Examples:
///   lifecycle react --check rules.toml
///   lifecycle react --rules rules.toml --dry-run
///   lifecycle react --rules rules.toml --dry-run --since 1h --count 20
///   lifecycle react --rules rules.toml --durable react --metrics 127.0.0.1:9101
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The rules file to run.
    #[arg(long, value_name = "FILE", required_unless_present = "check")]
    rules: Option<PathBuf>,

    /// Check this rules file (filters, templates, names, durations) and exit: 0 when it is
    /// valid, 1 with each problem's line and rule when it is not.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rules", "durable", "dry_run"])]
    check: Option<PathBuf>,

    /// Name the durable consumers: one per rule, NAME-<rule>.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["check", "dry_run"])]
    durable: Option<String>,

    /// Print what each matching event would run, run nothing and acknowledge nothing
    /// (events arrive live, or replayed with --since).
    #[arg(long, conflicts_with = "durable")]
    dry_run: bool,

    /// With --dry-run: replay CHORIA_EVENTS from this far back (90s, 1h30m, 2d) or this
    /// RFC 3339 time.
    #[arg(long, value_name = "WHEN", requires = "dry_run", value_parser = duration::parse_since)]
    since: Option<Since>,

    /// With --dry-run: stop after printing this many lines.
    #[arg(long, value_name = "N", requires = "dry_run")]
    count: Option<u64>,

    /// How long the server waits for an acknowledgement before it delivers an event again
    /// (renewed for every event held, so only a stopped process lets it lapse).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration::parse)]
    ack_wait: Duration,

    /// The longest wait between attempts; waits start at 100ms and double.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration::parse)]
    max_backoff: Duration,

    /// On Ctrl-C or SIGTERM, how long running actions have to finish; events not settled
    /// by then come back after --ack-wait.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration::parse)]
    grace: Duration,

    /// Serve Prometheus metrics (lifecycle_react_*{rule=...}: matched, succeeded, failed,
    /// retried, dead_lettered, deduplicated, running, action_duration_seconds) on this
    /// address, e.g. 127.0.0.1:9101.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.check {
        return Ok(check(path));
    }
    let Some(path) = &args.rules else {
        anyhow::bail!("give --rules FILE or --check FILE");
    };
    let rules = Rules::load(path)?;
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let shutdown = Shutdown::install();
        let connection = args.connect.connect().await?;
        if args.dry_run {
            let since = args.since.as_ref().map(|since| {
                since
                    .start(SystemTime::now())
                    .map_or(ReplayFrom::Start, ReplayFrom::Time)
            });
            let mut out = std::io::stdout();
            lifecycle_react::dry_run(
                &connection,
                &rules,
                since,
                args.count,
                &mut out,
                shutdown.requested(),
            )
            .await?;
            return Ok(ExitCode::SUCCESS);
        }
        let Some(durable) = &args.durable else {
            anyhow::bail!("give --durable NAME (or --dry-run)");
        };
        let metrics = Metrics::default();
        if let Some(addr) = args.metrics {
            let mut registry = Registry::default();
            for rule in &rules.rules {
                // Every rule's series from the start, at 0.
                metrics.rule(&rule.name);
            }
            metrics.register(registry.sub_registry_with_prefix("lifecycle_react"));
            crate::serve_metrics(addr, registry).await?;
        }
        let options = Options {
            ack_wait: args.ack_wait,
            max_backoff: args.max_backoff,
            grace: args.grace,
            ..Options::new(durable.clone())
        };
        match lifecycle_react::run(
            &connection,
            &rules,
            &options,
            &metrics,
            shutdown.requested(),
        )
        .await
        {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(error)
                if matches!(
                    error.kind(),
                    lifecycle_react::ErrorKind::Consumer {
                        nats: ErrorKind::JetStreamUnavailable,
                        ..
                    }
                ) =>
            {
                anyhow::bail!(
                    "react consumes the JetStream stream CHORIA_EVENTS, and the NATS server has \
                     no JetStream: enable it, then create the stream with `lifecycle streams create`"
                )
            }
            Err(error) => Err(error.into()),
        }
    })
}

/// `--check`: every problem on its own line on stderr.
fn check(path: &std::path::Path) -> ExitCode {
    match Rules::load(path) {
        Ok(rules) => {
            println!(
                "{}: {} rules, valid",
                TerminalSafe(path.display()),
                rules.rules.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => match error.kind() {
            lifecycle_react::ErrorKind::RulesInvalid { path, problems } => {
                for problem in problems {
                    eprintln!("{}:{problem}", TerminalSafe(path.display()));
                }
                ExitCode::from(1)
            }
            _ => {
                let error = lifecycle_core::ErrorChain(&error);
                eprintln!("lifecycle: {}", TerminalSafe(&error));
                ExitCode::from(2)
            }
        },
    }
}
