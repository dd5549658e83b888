//! `lifecycle streams`: show, and create, the JetStream streams Choria keeps events in.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use lifecycle_nats::{
    DEFAULT_RETENTION, EVENTS_STREAM, MACHINE_STREAM, StreamChange, StreamSpec, StreamState,
};
use serde_json::json;

use crate::connect::ConnectArgs;
use crate::duration;
use crate::output;

/// Show the JetStream streams Choria keeps events in, or create them.
///
/// CHORIA_EVENTS holds lifecycle events (choria.lifecycle.>), CHORIA_MACHINE machine events
/// (choria.machine.>). `view --since`, `wait --since`, `forward --durable` and the tally's
/// warm start read CHORIA_EVENTS. Choria's broker creates both when Choria Streams is
/// enabled; against a plain `nats-server -js`, create them here.
///
/// Without a subcommand, prints each stream's messages, bytes, first and last time and
/// consumers; exits 1 when one does not exist.
///
/// Examples:
///   lifecycle streams
///   lifecycle streams --json
///   lifecycle streams create
///   lifecycle streams create --events-retention 7d --machine-retention 24h --replicas 3
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,

    /// One JSON object per stream.
    #[arg(long, global = true)]
    json: bool,

    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create CHORIA_EVENTS and CHORIA_MACHINE as Choria's broker does, or set the retention
    /// of existing ones; running it again changes nothing.
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// How long CHORIA_EVENTS keeps lifecycle events.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration::parse)]
    events_retention: Duration,

    /// How long CHORIA_MACHINE keeps machine events.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration::parse)]
    machine_retention: Duration,

    /// Servers of a JetStream cluster that hold each stream (new streams only).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    replicas: u8,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let mut out = io::stdout().lock();
        if let Some(Action::Create(create)) = &args.action {
            let specs = [
                StreamSpec::events(create.events_retention, create.replicas.into()),
                StreamSpec::machine(create.machine_retention, create.replicas.into()),
            ];
            for spec in &specs {
                let change = connection
                    .ensure_stream(spec)
                    .await
                    .with_context(|| format!("cannot create the stream {}", spec.name))?;
                if !args.json {
                    let said = match change {
                        StreamChange::Created => "created".to_owned(),
                        StreamChange::RetentionUpdated { from } => format!(
                            "retention changed from {} to {}",
                            lifecycle_core::duration::format(from),
                            lifecycle_core::duration::format(spec.retention)
                        ),
                        StreamChange::Unchanged => "already as asked".to_owned(),
                    };
                    writeln!(out, "{}: {said}", spec.name).context("writing to stdout")?;
                }
            }
        }
        let mut missing = false;
        if !args.json {
            writeln!(out, "{}", row(HEADER.map(str::to_owned))).context("writing to stdout")?;
        }
        for name in [EVENTS_STREAM, MACHINE_STREAM] {
            let state = connection.stream_state(name).await?;
            missing |= state.is_none();
            let line = if args.json {
                serde_json::to_vec(&as_json(name, state.as_ref()))?
            } else {
                row(cells(name, state.as_ref())).into_bytes()
            };
            if !output::line(&mut out, &line).context("writing to stdout")? {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if missing && !args.json {
            writeln!(
                out,
                "\nA stream does not exist: create it with `lifecycle streams create` \
                 (retention {} by default).",
                lifecycle_core::duration::format(DEFAULT_RETENTION)
            )
            .context("writing to stdout")?;
        }
        out.flush().ok();
        Ok(if missing {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

const HEADER: [&str; 9] = [
    "STREAM",
    "SUBJECTS",
    "RETENTION",
    "REPLICAS",
    "MESSAGES",
    "BYTES",
    "FIRST",
    "LAST",
    "CONSUMERS",
];

/// Column widths: the longest value each column usually holds.
const WIDTHS: [usize; 9] = [14, 18, 9, 8, 10, 12, 20, 20, 9];

fn row(cells: [String; 9]) -> String {
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(WIDTHS) {
        line.push_str(&format!("{cell:<width$}  "));
    }
    line.trim_end().to_owned()
}

fn cells(name: &str, state: Option<&StreamState>) -> [String; 9] {
    let Some(s) = state else {
        let mut cells: [String; 9] = Default::default();
        cells[0] = name.to_owned();
        cells[1] = "(does not exist)".to_owned();
        return cells;
    };
    [
        s.name.clone(),
        s.subjects.join(","),
        if s.retention.is_zero() {
            "forever".to_owned()
        } else {
            lifecycle_core::duration::format(s.retention)
        },
        s.replicas.to_string(),
        s.messages.to_string(),
        s.bytes.to_string(),
        time(s.first).unwrap_or_else(|| "-".to_owned()),
        time(s.last).unwrap_or_else(|| "-".to_owned()),
        s.consumers.to_string(),
    ]
}

fn as_json(name: &str, state: Option<&StreamState>) -> serde_json::Value {
    let Some(s) = state else {
        return json!({"name": name, "exists": false});
    };
    json!({
        "name": s.name,
        "exists": true,
        "subjects": s.subjects,
        "retention_seconds": s.retention.as_secs(),
        "replicas": s.replicas,
        "storage": s.storage,
        "messages": s.messages,
        "bytes": s.bytes,
        "first": time(s.first),
        "last": time(s.last),
        "consumers": s.consumers,
    })
}

/// RFC 3339, UTC, to the second (none past the year 9999).
fn time(at: Option<SystemTime>) -> Option<String> {
    let at = at?;
    let unix = lifecycle_core::clock::unix_seconds(at);
    lifecycle_core::format_utc(unix)
}
