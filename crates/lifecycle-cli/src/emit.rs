//! `lifecycle emit`: build, validate and publish events.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use lifecycle_core::{AnyEvent, ErrorKind, Event, EventType, Format, GovernorEventType};

use crate::connect::ConnectArgs;
use crate::values;
use lifecycle_core::terminal::write_line;

/// Publish lifecycle events, as a Choria component would.
///
/// The event is built and checked before connecting: a field its type needs and that was
/// not given is an error (exit 2) naming the flag. Publishing ends with a flush, so the
/// events have reached the server when the command exits.
///
/// Examples:
///   lifecycle emit alive --identity node1.example.net --component server --version 0.29.4
///   lifecycle emit upgraded -i node1 -c server --version 0.29.3 --new-version 0.29.4
///   lifecycle emit governor -i node1 -c server --governor rollout --sequence 3 --governor-event enter
///   lifecycle emit startup -i node1 -c server --version 0.29.4 --format cloudevents --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, disable_version_flag = true)]
pub(crate) struct Args {
    /// startup, shutdown, provisioned, alive, governor or upgraded.
    #[arg(value_name = "TYPE", value_parser = values::event_type())]
    event_type: EventType,

    /// The node the event is about.
    #[arg(long, short = 'i')]
    identity: Option<String>,

    /// The component that emits it (e.g. server).
    #[arg(long, short = 'c')]
    component: Option<String>,

    /// Version (startup, alive, upgraded).
    #[arg(long = "version", id = "event_version", value_name = "VERSION")]
    version: Option<String>,

    /// Version upgraded to (upgraded).
    #[arg(long)]
    new_version: Option<String>,

    /// Governor name (governor).
    #[arg(long)]
    governor: Option<String>,

    /// Governor slot sequence (governor; 0, "no slot number", unless given, as Choria does).
    #[arg(long)]
    sequence: Option<u64>,

    /// Governor stage: enter, exit, timeouts or eviction (governor).
    #[arg(long, value_name = "STAGE", value_parser = values::governor_stage())]
    governor_event: Option<GovernorEventType>,

    /// Wire format: choria or cloudevents.
    #[arg(long, default_value = "choria", value_parser = values::format())]
    format: Format,

    /// How many events to publish (each with its own id).
    #[arg(long, short = 'n', default_value_t = 1)]
    count: u64,

    /// Print each event sent, one JSON object per line.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// The flag that gives a builder field.
fn flag(field: &str) -> &str {
    match field {
        "event_type" => "governor-event",
        "new_version" => "new-version",
        other => other,
    }
}

fn build(args: &Args) -> anyhow::Result<Event> {
    let mut builder = Event::builder(args.event_type);
    if let Some(v) = &args.identity {
        builder = builder.identity(v);
    }
    if let Some(v) = &args.component {
        builder = builder.component(v);
    }
    if let Some(v) = &args.version {
        builder = builder.version(v);
    }
    if let Some(v) = &args.new_version {
        builder = builder.new_version(v);
    }
    if let Some(v) = &args.governor {
        builder = builder.governor(v);
    }
    if let Some(v) = args.sequence {
        builder = builder.sequence(v);
    }
    if let Some(v) = &args.governor_event {
        builder = builder.governor_event(v.clone());
    }
    builder.build().map_err(|error| match error.kind() {
        ErrorKind::MissingField(field) => {
            anyhow::anyhow!("{} events need --{}", args.event_type, flag(field))
        }
        _ => anyhow::anyhow!("cannot build the {} event: {error}", args.event_type),
    })
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Validate everything before connecting.
    let events: Vec<Event> = (0..args.count)
        .map(|_| build(&args))
        .collect::<anyhow::Result<_>>()?;
    if let Some(first) = events.first() {
        first.subject()?;
    }
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let connection = args.connect.connect().await?;
        let publisher = connection.publisher(args.format);
        let mut out = io::stdout().lock();
        let mut printing = args.json;
        for event in &events {
            publisher.publish(event).await?;
            if printing {
                let json = AnyEvent::Lifecycle(event.clone()).to_json_as(args.format);
                printing = write_line(&mut out, &json).context("writing to stdout")?;
            }
        }
        publisher.flush().await?;
        out.flush().ok();
        Ok(ExitCode::SUCCESS)
    })
}
