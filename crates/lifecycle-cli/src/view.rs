//! `lifecycle view`: show events as they happen.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lifecycle_core::duration::Since;
use lifecycle_core::terminal::{TerminalSafe, escape_bytes};
use lifecycle_core::{AnyEvent, Filter};
use lifecycle_nats::{Received, Shutdown};
use lifecycle_watch::{EventTemplate, Stop, Watch};

use crate::connect::ConnectArgs;
use crate::duration;
use crate::output;

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

/// The filter with `--type` and `--component` folded in.
fn combined(args: &Args) -> anyhow::Result<Filter> {
    let mut parts: Vec<String> = args.types.clone();
    if let Some(component) = &args.component {
        let quoted = component.replace('\\', "\\\\").replace('"', "\\\"");
        parts.push(format!("component=\"{quoted}\""));
    }
    parts.extend(args.filter.clone());
    Ok(Filter::parse(&parts.join(","))?)
}

enum Style {
    Line {
        colour: bool,
    },
    Json,
    /// Raw unless stdout is a terminal.
    Debug {
        raw: bool,
    },
    Template(Box<EventTemplate>),
}

/// Runs `view`; `colour` says whether display lines are coloured by type.
pub(crate) fn run(args: Args, colour: bool) -> anyhow::Result<ExitCode> {
    let filter = combined(&args)?;
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
        let mut events = watch.open(&connection).await?;
        let mut out = io::stdout().lock();
        let mut shown = 0;
        while args.count.is_none_or(|n| shown < n) {
            let received = match events.next().await {
                Ok(received) => received,
                Err(Stop::Interrupted) => {
                    return Ok(ExitCode::from(crate::status(Stop::Interrupted, &shutdown)));
                }
                Err(Stop::Timeout | Stop::Closed) => break,
            };
            let line = render(&style, &received)?;
            if !output::line(&mut out, &line).context("writing to stdout")? {
                return Ok(ExitCode::SUCCESS);
            }
            out.flush().ok();
            shown += 1;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn render(style: &Style, received: &Received) -> anyhow::Result<Vec<u8>> {
    let event = received.parsed.event();
    Ok(match style {
        Style::Line { colour } => {
            let line = format!("{} {}", clock(event.timestamp()), TerminalSafe(event));
            match (colour, colour_of(event)) {
                (true, Some(code)) => format!("\x1b[{code}m{line}\x1b[0m").into_bytes(),
                _ => line.into_bytes(),
            }
        }
        Style::Debug { raw: true } => received.payload.to_vec(),
        Style::Debug { raw: false } => escape_bytes(&received.payload).into_owned().into_bytes(),
        Style::Json => json_line(received),
        Style::Template(template) => template
            .render(received)
            .context("rendering --template")?
            .into_bytes(),
    })
}

/// The event in Choria format, keys in Choria's order, then `format` and `subject`.
pub(crate) fn json_line(received: &Received) -> Vec<u8> {
    let mut json = received.parsed.event().to_json();
    debug_assert_eq!(json.last(), Some(&b'}'));
    json.pop();
    let tail = serde_json::json!({
        "format": received.parsed.format(),
        "subject": received.subject.as_str(),
    });
    let tail = serde_json::to_vec(&tail).expect("plain JSON serialises");
    json.push(b',');
    json.extend_from_slice(&tail[1..]);
    json
}

/// `HH:MM:SS` of a unix time, UTC.
fn clock(timestamp: i64) -> String {
    let seconds = timestamp.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// The ANSI colour of a type: startup green, shutdown red, provisioned cyan, alive plain,
/// governor yellow, upgraded magenta, machine events blue.
fn colour_of(event: &AnyEvent) -> Option<&'static str> {
    match event.type_name() {
        "startup" => Some("32"),
        "shutdown" => Some("31"),
        "provisioned" => Some("36"),
        "governor" => Some("33"),
        "upgraded" => Some("35"),
        "transition" | "state" => Some("34"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(1_700_000_000), "22:13:20");
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(-1), "23:59:59");
    }
}
