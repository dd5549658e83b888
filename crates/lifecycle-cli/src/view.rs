//! `lifecycle view`: show events as they happen.

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lifecycle_core::ErrorChain;
use lifecycle_core::Filter;
use lifecycle_core::duration::Since;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_nats::Shutdown;
use lifecycle_watch::{ErrorKind, EventTemplate, Stop, Style, Watch, show, view_filter};

use crate::connect::ConnectArgs;
use crate::duration;

/// Show lifecycle events as they happen, one line each.
///
/// Each line is the time of the event itself (HH:MM:SS, UTC) and Choria's display line,
/// coloured by type on a terminal (see --color). Machine events are shown when the filter asks
/// for them (`transition`, `state`, `machine=...`).
///
/// Control characters in events (ESC, CR, LF, ...) are shown escaped, as \x1b, \r, \n, in
/// display lines and in the values a --template prints; --json escapes them as JSON does;
/// --debug writes the payload as received unless stdout is a terminal.
///
/// Exits 0 after --count events, at --timeout or when stdout is closed, 2 on a usage or
/// connection error, 130 on Ctrl-C (SIGINT), 143 on SIGTERM; every line is written whole.
///
/// Examples:
///   lifecycle view
///   lifecycle view --type alive --component server
///   lifecycle view --filter 'startup,upgraded,identity=web*,.version>=0.29.0'
///   lifecycle view --since 1h --count 10 --json
///   lifecycle view --template '{{ identity }} runs {{ version }}'
///   lifecycle view --filter transition,machine=nagios
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Only this event type (repeatable; added to the filter's type elements).
    #[arg(long = "type", short = 't', value_name = "TYPE", value_parser = crate::values::filter_type())]
    types: Vec<String>,

    /// Only this component.
    #[arg(long, short = 'c', value_name = "COMPONENT")]
    component: Option<String>,

    /// Filter expression, e.g. 'alive,identity=web*,.version>=0.29.0'.
    #[arg(long, short = 'f', value_name = "EXPR", value_parser = filter)]
    filter: Option<String>,

    /// A minijinja template over the event's fields, e.g. '{{ identity }} {{ version }}';
    /// `format`, `subject`, `display` and `type_name` are there too, and the string helpers
    /// has_prefix(s, prefix), has_suffix(s, suffix), contains(s, substring).
    #[arg(long, value_name = "TPL", conflicts_with_all = ["json", "debug"])]
    template: Option<String>,

    /// One JSON object per event: the event in Choria format plus `format` and `subject`.
    #[arg(long, conflicts_with = "debug")]
    json: bool,

    /// The payload exactly as received (with control characters escaped when stdout is a
    /// terminal).
    #[arg(long)]
    debug: bool,

    /// First replay this much of the past from JetStream (e.g. 10m, 1h30m), or from an RFC 3339
    /// time (2026-11-30T10:00:00Z).
    #[arg(long, value_name = "DURATION|TIME", value_parser = duration::parse_since)]
    since: Option<Since>,

    /// Exit after this many events.
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,

    /// Exit after this long (e.g. 30s).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    timeout: Option<Duration>,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// Checks a filter for clap, before anything connects.
pub(crate) fn filter(text: &str) -> Result<String, String> {
    Filter::parse(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

/// Runs `view`; `colour` says whether display lines are coloured by type.
pub(crate) fn run(args: Args, colour: bool) -> anyhow::Result<ExitCode> {
    let filter = view_filter(
        &args.types,
        args.component.as_deref(),
        args.filter.as_deref(),
    )?;
    let style = if let Some(template) = &args.template {
        let template = EventTemplate::new(template).context("invalid --template")?;
        Style::Template(Box::new(template))
    } else if args.json {
        Style::Json
    } else if args.debug {
        Style::Debug {
            raw: !io::stdout().is_terminal(),
        }
    } else {
        Style::Line { colour }
    };
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let shutdown = Shutdown::install();
        let connection = args.connect.connect().await?;
        let mut watch = Watch::new(filter).stop(shutdown.requested());
        if let Some(since) = args.since {
            watch = watch.since(since);
        }
        if let Some(timeout) = args.timeout {
            watch = watch.timeout(timeout);
        }
        let mut events = match watch.open(&connection).await {
            Ok(events) => events,
            // JetStream never started the replay: said, then ended as events that stopped.
            Err(error) => match error.kind() {
                ErrorKind::Stopped { stop, .. } => {
                    eprintln!("lifecycle: {}", TerminalSafe(ErrorChain(&error)));
                    return Ok(ExitCode::from(crate::status(*stop, &shutdown)));
                }
                _ => return Err(error.into()),
            },
        };
        let mut out = io::stdout().lock();
        match show(&mut events, &style, args.count, &mut out).await {
            Ok(Some(Stop::Interrupted)) => {
                Ok(ExitCode::from(crate::status(Stop::Interrupted, &shutdown)))
            }
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(e.into()),
        }
    })
}
