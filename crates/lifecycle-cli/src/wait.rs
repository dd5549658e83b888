//! `lifecycle wait`: block until the fleet is in a state, or enough matching events were seen.

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lifecycle_core::Filter;
use lifecycle_core::duration::Since;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_nats::Shutdown;
use lifecycle_watch::Progress;
use lifecycle_watch::{
    Condition, Fraction, Gate, KeyBy, PassTemplate, TallyClient, Target, TemplateWait, Wait,
    write_nodes,
};
use tracing::debug;

use crate::connect::ConnectArgs;
use crate::duration;
use lifecycle_core::terminal::write_line;

/// Wait until the fleet is in a state (--until), or until enough matching events were seen.
///
/// With --until, each node's latest event that --filter selects gives its state (the version
/// it runs, when it was last seen); a node passes while that state meets --until, fails again
/// when a later event breaks it, and leaves the fleet when it shuts down. Enough nodes must
/// pass: --count N of them, --all (the default) or a --fraction of the nodes known, which come
/// from a replay (--since: the nodes the replayed events show) or from a running tally
/// (--tally URL: its up nodes the filter selects). The state is decided once the replay has
/// caught up, so a fleet that passed through the state an hour ago does not count. On a
/// terminal, stderr shows how many pass.
///
/// Exits 0 as soon as the condition holds, 1 when the timeout passes first (listing on stdout
/// the nodes that do not pass: identity, component, version and when last seen, or one JSON
/// object per line with --json), 2 on a usage or connection error, 130 on Ctrl-C (SIGINT)
/// and 143 on SIGTERM (a CI runner cancelling the job), listing the nodes that do not pass
/// as on timeout.
///
/// Without --until it counts events (--count N, default 1) or distinct identities
/// (--distinct identity); with --since, the replayed ones count too.
///
/// --template is OpenSVC's model for anything else: the template is rendered for each event
/// (what it writes goes to stdout) and the wait succeeds once it calls set_success with a true
/// condition. pass_set(key, condition) adds the key while the condition is true and removes
/// it when false (returning whether the set changed), pass_add(key) and pass_del(key) do one or
/// the other, pass_count() counts the keys; has_prefix, has_suffix and contains test strings.
///
/// Examples:
///   # every server runs 0.30.0 or later, within 15 minutes
///   lifecycle wait --filter component=server --until '.version>=0.30.0' \
///       --all --since 1h --timeout 15m
///   # 95% of the servers a tally knows
///   lifecycle wait --filter component=server --until '.version>=0.30.0' \
///       --fraction 0.95 --tally http://tally.example.net:9090 --timeout 15m
///   # 50 distinct servers report version 0.29.4 within 10 minutes
///   lifecycle wait --filter 'alive,startup,component=server,version=0.29.4' \
///       --count 50 --distinct identity --timeout 10m --since 1h
///   # OpenSVC's "3 objects up": 3 nodes run 0.30.0, and still do
///   lifecycle wait --filter alive,component=server --since 10m --template \
///     '{% if pass_set(identity, version == "0.30.0") %}
///      {%- if set_success(pass_count() == 3) %}{% endif %}{% endif %}'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Filter expression the events must pass; with --until, it says which nodes make the
    /// fleet (component=server), and --until what they must reach.
    #[arg(long, short = 'f', value_name = "EXPR", value_parser = crate::view::filter)]
    filter: String,

    /// The condition each node's latest state must meet, in the filter language evaluated on
    /// the node as an alive event (identity, component, version, timestamp and last_seen when
    /// last seen, state), e.g. '.version>=0.30.0'.
    #[arg(long, value_name = "EXPR", value_parser = crate::view::filter)]
    until: Option<String>,

    /// With --until, what one node is: identity, component or identity+component.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "identity",
        requires = "until"
    )]
    key: KeyBy,

    /// How many events to wait for (default 1); identities with --distinct identity; nodes
    /// that pass with --until.
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "template")]
    count: Option<u64>,

    /// Count each identity once (without --until).
    #[arg(long, value_name = "FIELD", value_parser = ["identity"], conflicts_with_all = ["until", "template"])]
    distinct: Option<String>,

    /// With --until: every node known must pass (the default).
    #[arg(long, requires = "until", conflicts_with_all = ["count", "fraction"])]
    all: bool,

    /// With --until: this share of the nodes known must pass, rounded up, e.g. 0.95.
    #[arg(
        long,
        value_name = "SHARE",
        requires = "until",
        conflicts_with = "count"
    )]
    fraction: Option<Fraction>,

    /// With --until: the fleet is this tally's up nodes the filter selects, read through its
    /// API (http://host:port); events from now on update them.
    #[arg(long, value_name = "URL", requires = "until", conflicts_with = "since")]
    tally: Option<String>,

    /// OpenSVC's model: a minijinja template rendered for each event; the wait succeeds once
    /// it calls set_success with a true condition (see above).
    #[arg(long, value_name = "TPL", conflicts_with_all = ["until", "distinct"])]
    template: Option<String>,

    /// On timeout, the nodes that do not pass as JSON, one object per line.
    #[arg(long, requires = "until")]
    json: bool,

    /// Give up (exit 1) after this long, e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    timeout: Option<Duration>,

    /// Replay events from this far back in JetStream first (e.g. 1h), or from an RFC 3339
    /// time (2026-11-30T10:00:00Z): with --until, the nodes they show are the fleet.
    #[arg(long, value_name = "DURATION|TIME", value_parser = duration::parse_since)]
    since: Option<Since>,

    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = Filter::parse(&args.filter)?;
    let started = Instant::now();
    if let Some(template) = &args.template {
        let template = PassTemplate::new(template).context("invalid --template")?;
        let mut condition = TemplateWait::new(template);
        let shown = |condition: &mut TemplateWait, bar: &ProgressBar| {
            bar.set_message(format!("{} passed", condition.template().pass_count()));
            bar.suspend(|| {
                let mut out = io::stdout().lock();
                for text in condition.take_output() {
                    // A reader that went away (`| head`) leaves the wait to go on quietly.
                    let _ = write_line(&mut out, text.as_bytes());
                }
            });
        };
        let stop = receive(&args, filter, &mut condition, None, shown)?;
        return Ok(match stop {
            None => {
                let passed = condition.template().passed();
                eprintln!(
                    "lifecycle: wait succeeded after {:.1?}; passed: {}",
                    started.elapsed(),
                    TerminalSafe(passed.join(", "))
                );
                ExitCode::SUCCESS
            }
            Some(status) => {
                eprintln!(
                    "lifecycle: condition not met: set_success was not given a true \
                     condition; {} passed",
                    condition.template().pass_count()
                );
                ExitCode::from(status)
            }
        });
    }
    let Some(until) = &args.until else {
        let target = args.count.unwrap_or(1);
        let mut progress = match args.distinct {
            Some(_) => Progress::distinct_identities(target),
            None => Progress::events(target),
        };
        let shown = |progress: &mut Progress, bar: &ProgressBar| {
            bar.set_length(progress.target());
            bar.set_position(progress.count());
            bar.set_message(progress.to_string());
        };
        let stop = receive(&args, filter, &mut progress, None, shown)?;
        return Ok(match stop {
            None => ExitCode::SUCCESS,
            Some(status) => {
                eprintln!("lifecycle: condition not met: {progress}");
                ExitCode::from(status)
            }
        });
    };
    let target = match (args.count, args.fraction) {
        (Some(n), _) => Target::Count(n),
        (None, Some(fraction)) => Target::Fraction(fraction),
        (None, None) => Target::All,
    };
    let known_fleet = args.since.is_some() || args.tally.is_some();
    if matches!(target, Target::All | Target::Fraction(_)) && !known_fleet {
        bail!(
            "--all and --fraction compare with the nodes known: give --since (the nodes a \
             replay shows) or --tally (the nodes a tally knows), or --count N"
        );
    }
    let tally = args.tally.as_deref().map(TallyClient::new).transpose()?;
    let mut gate = Gate::new(Filter::parse(until)?, target).key_by(args.key);
    let shown = |gate: &mut Gate, bar: &ProgressBar| {
        bar.set_length(gate.needed());
        bar.set_position(gate.passing() as u64);
        bar.set_message(gate.to_string());
    };
    let stop = receive(&args, filter, &mut gate, tally, shown)?;
    if gate.refused() > 0 {
        eprintln!(
            "lifecycle: warning: {} events of new nodes were ignored past {} nodes",
            gate.refused(),
            gate.known()
        );
    }
    let Some(status) = stop else {
        return Ok(ExitCode::SUCCESS);
    };
    eprintln!("lifecycle: condition not met: {gate}");
    if gate.known() == 0 {
        eprintln!("lifecycle: no node the filter selects is known");
    }
    write_nodes(&mut io::stdout().lock(), &gate.failing(), args.json)?;
    Ok(ExitCode::from(status))
}

/// Receives events into `condition` until it holds (`None`) or they stop (the exit status
/// that says why), showing progress on a terminal; with a tally, its nodes first.
fn receive<C: Condition>(
    args: &Args,
    filter: Filter,
    condition: &mut C,
    tally: Option<TallyClient>,
    mut show: impl FnMut(&mut C, &ProgressBar),
) -> anyhow::Result<Option<u8>> {
    let bar = progress_bar();
    let runtime = crate::connect::runtime()?;
    let stop = runtime.block_on(async {
        let shutdown = Shutdown::install();
        let deadline = args
            .timeout
            .and_then(|timeout| tokio::time::Instant::now().checked_add(timeout));
        let connection = args.connect.connect().await?;
        let mut wait = Wait::new(filter).stop(shutdown.requested());
        if let Some(since) = args.since {
            wait = wait.since(since);
        }
        if let Some(deadline) = deadline {
            wait = wait.deadline(deadline);
        }
        if let Some(tally) = tally {
            wait = wait.tally(tally, args.filter.clone());
        }
        // Where the wait stands after each event, also at debug (-vv): the bar is drawn only
        // on a terminal, and a caller reading the log learns when an event was seen.
        let show = |condition: &mut C| {
            show(condition, &bar);
            debug!(state = %bar.message(), "progress");
        };
        let waited = wait.run(&connection, condition, show).await?;
        if waited.stop.is_some() && !waited.caught_up {
            bar.suspend(|| {
                eprintln!(
                    "lifecycle: warning: the replay had not caught up with the present: what \
                     follows is the state as of the events replayed so far"
                );
            });
        }
        anyhow::Ok(waited.stop.map(|stop| crate::status(stop, &shutdown)))
    });
    bar.finish_and_clear();
    stop
}

/// A bar on stderr when it is a terminal, drawing nothing otherwise.
fn progress_bar() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{bar:30} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()).with_style(style)
}
