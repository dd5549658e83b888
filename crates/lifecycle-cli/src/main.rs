//! `lifecycle`: view, emit, tally, wait on, forward and simulate Choria lifecycle events.
//!
//! This file turns arguments into settings and calls library code; see `--help`.

mod colour;
mod completions;
mod connect;
mod demo;
mod duration;
mod emit;
mod forward;
mod inspect;
mod nodes;
mod react;
mod simulate;
mod streams;
mod tally;
mod values;
mod view;
mod wait;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lifecycle_core::terminal::TerminalSafe;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{FormatFields, debug_fn};

/// Choria lifecycle events: inspect, view, emit, wait on, tally, forward and simulate them.
#[derive(Debug, Parser)]
#[command(
    name = "lifecycle",
    version,
    propagate_version = true,
    after_help = "Examples:
  lifecycle view --filter 'alive,identity=web*,.version>=0.29.0'
  lifecycle emit alive --identity node1.example.net --component server --version 0.29.4
  lifecycle wait --filter 'alive,version=0.29.4' --count 50 --distinct identity --timeout 10m
  lifecycle <command> --help    (each command's options and examples)
JetStream (streams, --since, --durable, react, tally) needs nats-server 2.10 or later."
)]
struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace, the libraries below ours
    /// one level quieter until -vvv); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Colour output and logs: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_name = "WHEN", default_value = "auto", global = true)]
    color: colour::Colour,

    #[command(subcommand)]
    command: Command,
}

/// Each command's one-line summary for `lifecycle --help` is given here, so that the list
/// reads as one table; `lifecycle <command> --help` shows the command's whole description.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(about = "Try it all: a simulated fleet upgrading, tallied, with a live dashboard")]
    Demo(demo::Args),
    #[command(about = "Check events in files or stdin and print each one's display line")]
    Inspect(inspect::Args),
    #[command(about = "Show events as they happen, one line each")]
    View(view::Args),
    #[command(about = "Publish events, as a Choria component would")]
    Emit(emit::Args),
    #[command(about = "Wait until the fleet is in a state, or events were seen; 1 on timeout")]
    Wait(wait::Args),
    #[command(about = "List nodes and their versions, from a tally or a replay of the stream")]
    Nodes(nodes::Args),
    #[command(about = "Forward events to a CloudEvents receiver over HTTP")]
    Forward(forward::Args),
    #[command(about = "Run a command or call a webhook for each matching event, at least once")]
    React(react::Args),
    #[command(about = "Count the fleet by component and version; serve metrics and a dashboard")]
    Tally(tally::Args),
    #[command(about = "Simulate a fleet's events, into NATS or a tally in process")]
    Simulate(simulate::Args),
    #[command(about = "Show, or create, the JetStream streams Choria keeps events in")]
    Streams(streams::Args),
    #[command(about = "Print a completion script for bash, zsh, fish, elvish or PowerShell")]
    Completions(completions::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.color.stderr());
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Inspect(args) => inspect::run(&args),
        Command::View(args) => view::run(args, cli.color.stdout()),
        Command::Emit(args) => emit::run(args),
        Command::Wait(args) => wait::run(args),
        Command::Nodes(args) => nodes::run(args),
        Command::Forward(args) => forward::run(args),
        Command::React(args) => react::run(args),
        Command::Tally(args) => tally::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Streams(args) => streams::run(args),
        Command::Completions(args) => completions::run::<Cli>(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Errors quote values from the wire and from files: escaped, like every log line.
            eprintln!("lifecycle: {}", TerminalSafe(format_args!("{error:#}")));
            ExitCode::from(2)
        }
    }
}

/// The exit status for events that stopped before the condition held (or, for `view` and
/// `nodes`, before they were all shown): 1, or what a shell reports for the signal that
/// asked to stop (130 SIGINT, 143 SIGTERM).
pub(crate) fn status(stop: lifecycle_watch::Stop, shutdown: &lifecycle_nats::Shutdown) -> u8 {
    match stop {
        lifecycle_watch::Stop::Interrupted => shutdown
            .signal()
            .map_or(1, lifecycle_nats::Signal::exit_code),
        lifecycle_watch::Stop::Timeout | lifecycle_watch::Stop::Closed => 1,
    }
}

/// Serves `registry` for `--metrics ADDR` (forward, react) in the background.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    registry: prometheus_client::registry::Registry,
) -> anyhow::Result<()> {
    lifecycle_http::serve_metrics(addr, registry)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for --metrics: {e}"))?;
    Ok(())
}

fn init_tracing(verbose: u8, ansi: bool) {
    // Our crates (targets `lifecycle*`) one level more verbose than the libraries below
    // them, async-nats kept at warn until -vvv: it logs each dropped message at info and
    // debug (a flood when a subscription falls behind), and what it says at info of its
    // connection our own logs say, once per interval.
    let default = match verbose {
        0 => "warn",
        1 => "warn,lifecycle=info",
        2 => "info,lifecycle=debug,async_nats=warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(terminal_safe_fields())
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Log fields as tracing-subscriber writes them (`message`, then `name=value`), with control
/// characters escaped. Its own formatter escapes ESC, BEL, BS, FF, DEL and C1 in messages
/// only, not CR or LF (which forge log lines) nor `%value` fields; events from the wire reach
/// both, through error messages that quote them.
fn terminal_safe_fields() -> impl for<'w> FormatFields<'w> + 'static {
    debug_fn(|writer, field, value| {
        let value = TerminalSafe(format_args!("{value:?}"));
        if field.name() == "message" {
            write!(writer, "{value}")
        } else {
            write!(writer, "{field}={value}")
        }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
