//! `lifecycle streams`: show, and create, the JetStream streams Choria keeps events in.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lifecycle_core::terminal::write_line;
use lifecycle_nats::{
    DEAD_LETTER_STREAM, DEFAULT_RETENTION, EVENTS_STREAM, MACHINE_STREAM, StreamReport, StreamSpec,
};

use crate::connect::ConnectArgs;
use crate::duration;

/// Show the JetStream streams Choria keeps events in, or create them.
///
/// CHORIA_EVENTS holds lifecycle events (choria.lifecycle.>), CHORIA_MACHINE machine events
/// (choria.machine.>). `view --since`, `wait --since`, `forward --durable` and the tally's
/// warm start read CHORIA_EVENTS. Choria's broker creates both when Choria Streams is
/// enabled; against a plain `nats-server -js`, create them here. LIFECYCLE_DEAD_LETTERS keeps
/// the dead letters of `forward` and `react` (lifecycle.dead.>: give each its own subject,
/// such as --dead-letter lifecycle.dead.forward).
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

    /// How long LIFECYCLE_DEAD_LETTERS keeps dead letters.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = duration::parse)]
    dead_letter_retention: Duration,

    /// Servers of a JetStream cluster that hold each stream: existing streams are changed to
    /// as many (or the command fails naming both counts). Without it, new streams get one
    /// and existing ones keep theirs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=5))]
    replicas: Option<u8>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let mut out = io::stdout().lock();
        if let Some(Action::Create(create)) = &args.action {
            let specs = [
                StreamSpec::events(create.events_retention, create.replicas.map(usize::from)),
                StreamSpec::machine(create.machine_retention, create.replicas.map(usize::from)),
                StreamSpec::dead_letters(
                    create.dead_letter_retention,
                    create.replicas.map(usize::from),
                ),
            ];
            for spec in &specs {
                let change = connection
                    .ensure_stream(spec)
                    .await
                    .with_context(|| format!("cannot create the stream {}", spec.name))?;
                if !args.json {
                    let said = change.describe(spec);
                    writeln!(out, "{}: {said}", spec.name).context("writing to stdout")?;
                }
            }
        }
        let mut missing = false;
        if !args.json {
            writeln!(out, "{}", StreamReport::header()).context("writing to stdout")?;
        }
        for name in [EVENTS_STREAM, MACHINE_STREAM, DEAD_LETTER_STREAM] {
            let state = connection.stream_state(name).await?;
            missing |= state.is_none();
            let report = StreamReport {
                name,
                state: state.as_ref(),
            };
            let line = if args.json {
                report.to_json()
            } else {
                report.row().into_bytes()
            };
            if !write_line(&mut out, &line).context("writing to stdout")? {
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
