//! `lifecycle forward`: POST events to a CloudEvents receiver.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lifecycle_cloudevents::{Forwarder, Mode};
use lifecycle_core::Filter;
use lifecycle_deliver::{Backoff, Engine, Handler, Settings, Stopped, report_progress};
use lifecycle_nats::Shutdown;
use lifecycle_react::Post;
use prometheus_client::registry::Registry;
use tracing::info;

use crate::connect::ConnectArgs;
use crate::duration;

/// The systemd credential holding the receiver's URL, read when neither --to nor --to-file is
/// given.
const CREDENTIAL_TO: &str = "forward-to";

/// Forward events to a CloudEvents receiver (Knative, OpenFaaS, an event gateway...) over
/// HTTP: one at a time and in order by default; with --concurrency N, up to N at once,
/// each identity's events still one at a time and in order.
///
/// Without --durable the events are received live: while the receiver is away, each is
/// retried up to --max-attempts times (10). With --durable NAME they come from the JetStream
/// stream CHORIA_EVENTS through a durable consumer of that name, and each is acknowledged
/// only once the receiver answered 2xx or it was dead-lettered: a receiver (or this command)
/// that is down for a while misses nothing, events arrive at least once, in order per
/// identity. A durable consumer starts with the events stored after it was first created;
/// several forwarders with the same --durable NAME share its events.
///
/// An event that can never be delivered (the receiver answers 4xx other than 408 and 429, or
/// it cannot be made into a request) is dead-lettered at once, and one still failing after
/// --max-attempts is too: logged with its id and why, counted, published as it came to
/// --dead-letter SUBJECT when given (headers Lifecycle-Dead-Letter-Reason, -Attempts,
/// -Consumer, -Handler), and acknowledged, so nothing behind it waits.
///
/// Runs until Ctrl-C (SIGINT) or SIGTERM: then events being sent have 10s to finish, and
/// it exits 0. What was not delivered by then comes back to a --durable consumer; a live
/// forwarder drops it, says how many in its log and counts them in dropped. Exits 2 on a
/// usage or connection error, or when the subscription ends.
///
/// The receiver's URL may hold a secret (https://TOKEN@gw.example.net/hook, a key in its
/// query): it is never shown whole, and a command line is readable by every local user, so
/// such a URL is best given with --to-file, LIFECYCLE_FORWARD_TO or the systemd credential
/// forward-to ($CREDENTIALS_DIRECTORY/forward-to, from LoadCredential=).
///
/// Examples:
///   lifecycle forward --to http://broker.example.net/default
///   lifecycle forward --to-file /etc/lifecycle/receiver.url --durable knative
///   lifecycle forward --to http://gw.example.net/ --filter 'startup,provisioned' --durable provisioner
///   lifecycle forward --to http://gw.example.net/ --durable cd --dead-letter lifecycle.dead.cd
///   lifecycle forward --to http://gw.example.net/ --durable cd --concurrency 20
///   lifecycle forward --to http://gw.example.net/ --mode structured --metrics 127.0.0.1:9100
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The receiver's URL (http or https). Required, here or from --to-file or the systemd
    /// credential forward-to.
    #[arg(
        long,
        value_name = "URL",
        env = "LIFECYCLE_FORWARD_TO",
        hide_env_values = true
    )]
    to: Option<String>,

    /// Read the receiver's URL from this file (it wins over --to).
    #[arg(long, value_name = "FILE")]
    to_file: Option<PathBuf>,

    /// Filter expression, e.g. 'alive,identity=web*,.version>=0.29.0'.
    #[arg(long, short = 'f', value_name = "EXPR", value_parser = crate::view::filter)]
    filter: Option<String>,

    /// CloudEvents HTTP content mode: attributes in ce-* headers, or one JSON document.
    #[arg(long, value_name = "MODE", default_value = "binary", value_parser = ["binary", "structured"])]
    mode: String,

    /// Consume from JetStream with this durable consumer, acknowledging after delivery.
    #[arg(long, value_name = "NAME")]
    durable: Option<String>,

    /// Events sent at once, of different identities (one identity's events always go one
    /// at a time, in order). 1 sends every event in order.
    #[arg(long, value_name = "N", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: u32,

    /// With --durable: how long the server waits for an acknowledgement before it delivers
    /// an event again (the forwarder renews it for every event it holds).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration::parse)]
    ack_wait: Duration,

    /// Attempts per event before it is dead-lettered, when the receiver is unreachable,
    /// times out or answers 408, 429 or 5xx: 0 for no limit. Default: no limit with
    /// --durable, 10 without.
    #[arg(long = "max-attempts", alias = "attempts", value_name = "N")]
    max_attempts: Option<u32>,

    /// Publish each dead-lettered event, as it arrived, to this NATS subject (not under
    /// choria.lifecycle. or choria.machine.), with headers saying why.
    #[arg(long, value_name = "SUBJECT")]
    dead_letter: Option<String>,

    /// The longest wait between attempts; waits start at 100ms and double.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration::parse)]
    max_backoff: Duration,

    /// Serve Prometheus metrics (lifecycle_forward_*: matched, succeeded, failed, retried,
    /// dead_lettered, deduplicated, invalid, running, action_duration_seconds, dropped) on
    /// this address, e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = Filter::parse(args.filter.as_deref().unwrap_or(""))?;
    let mode: Mode = args.mode.parse()?;
    let attempts = match args.max_attempts {
        Some(0) => None,
        Some(n) => Some(n),
        None if args.durable.is_some() => None,
        None => Some(10),
    };
    let to = lifecycle_secret::resolve(args.to.as_deref(), args.to_file.as_deref(), CREDENTIAL_TO)
        .context("the receiver's URL")?
        .context(
            "give the receiver's URL: --to URL, --to-file FILE, LIFECYCLE_FORWARD_TO or the \
             systemd credential forward-to",
        )?;
    let post = Post::new(Forwarder::new(to.expose(), mode)?);
    let concurrency = usize::try_from(args.concurrency).unwrap_or(1);
    let mut settings = Settings::new("forward").with_concurrency(concurrency);
    settings.filter = filter;
    settings.backoff = Backoff::capped(args.max_backoff, attempts);
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        let shutdown = Shutdown::install();
        let connection = args.connect.connect().await?;
        settings.dead_letters = args
            .dead_letter
            .as_deref()
            .map(|subject| connection.dead_letters(subject))
            .transpose()?;
        let engine = Engine::new(post, settings);
        let counted = connection.clone();
        engine
            .metrics()
            .count_dropped_from(move || counted.dropped());
        if let Some(addr) = args.metrics {
            let mut registry = Registry::default();
            engine
                .metrics()
                .register(registry.sub_registry_with_prefix("lifecycle_forward"));
            crate::serve_metrics(addr, registry).await?;
        }
        info!(url = %engine.handler().describe(), %mode, "forwarding events");
        tokio::spawn(report_progress(
            engine.metrics().clone(),
            connection.clone(),
            "forwarding",
        ));
        let stopped = match &args.durable {
            None => engine.run_live(&connection, shutdown.requested()).await?,
            Some(name) => engine
                .run_durable(&connection, name, args.ack_wait, shutdown.requested())
                .await
                .with_context(|| format!("cannot open the durable consumer '{name}'"))?,
        };
        connection.report_dropped();
        match stopped {
            Stopped::Shutdown => Ok(ExitCode::SUCCESS),
            Stopped::SourceEnded => {
                anyhow::bail!("the events stopped coming: the subscription ended")
            }
        }
    })
}
