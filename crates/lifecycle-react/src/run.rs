//! Running every rule of a file: one durable consumer and one engine per rule.

use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::try_join_all;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_deliver::{Backoff, DEFAULT_GRACE, Engine, Handler, Metrics, Settings, Stopped};
use lifecycle_nats::{Connection, Interest, ReplayFrom};
use tokio::sync::watch;
use tracing::info;

use crate::error::{Error, ErrorKind};
use crate::rules::{Rule, Rules};

/// How `react` runs its rules.
#[derive(Debug, Clone)]
pub struct Options {
    /// Consumers are named `<durable>-<rule>`.
    pub durable: String,
    /// How long the server waits for an acknowledgement before it delivers an event again.
    pub ack_wait: Duration,
    /// The longest wait between attempts (waits start at 100 ms and double).
    pub max_backoff: Duration,
    /// How long running actions have to finish once shutdown is asked.
    pub grace: Duration,
}

impl Options {
    /// Consumers named `<durable>-<rule>`, a 30 s acknowledgement wait, backoff up to 10 s,
    /// 10 s of grace.
    pub fn new(durable: impl Into<String>) -> Options {
        Options {
            durable: durable.into(),
            ack_wait: lifecycle_nats::DEFAULT_ACK_WAIT,
            max_backoff: Duration::from_secs(10),
            grace: DEFAULT_GRACE,
        }
    }
}

/// The durable consumer of `rule`.
pub fn consumer_name(durable: &str, rule: &str) -> String {
    format!("{durable}-{rule}")
}

/// The engine settings of `rule`.
pub fn settings(
    connection: &Connection,
    rule: &Rule,
    max_backoff: Duration,
    grace: Duration,
) -> Result<Settings, lifecycle_nats::Error> {
    let mut settings = Settings::new(rule.name.clone()).with_concurrency(rule.concurrency);
    settings.filter = rule.filter.clone();
    settings.key = rule.key;
    settings.backoff = Backoff::capped(max_backoff, rule.max_attempts);
    settings.dedupe = rule.dedupe;
    settings.grace = grace;
    settings.dead_letters = rule
        .dead_letter
        .as_deref()
        .map(|subject| connection.dead_letters(subject))
        .transpose()?;
    Ok(settings)
}

/// Runs every rule of `rules` until `shutdown` completes, each with its durable consumer
/// on `CHORIA_EVENTS` and its series in `metrics`. Returns once every rule stopped (running
/// actions get [`Options::grace`]), or at the first rule that cannot run.
pub async fn run(
    connection: &Connection,
    rules: &Rules,
    options: &Options,
    metrics: &Metrics,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut engines = Vec::new();
    for rule in &rules.rules {
        let consumer = consumer_name(&options.durable, &rule.name);
        let settings = settings(connection, rule, options.max_backoff, options.grace)
            .map_err(|error| Error::consumer(&rule.name, &consumer, error))?;
        let engine =
            Engine::new(rule.action.clone(), settings).with_metrics(metrics.rule(&rule.name));
        engines.push((consumer, engine));
    }
    let (stop, stopping) = watch::channel(false);
    let all = try_join_all(engines.iter().map(|(consumer, engine)| {
        let mut stopping = stopping.clone();
        async move {
            let rule = &engine.settings().name;
            let stopped = engine
                .run_durable(connection, consumer, options.ack_wait, async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                })
                .await
                .map_err(|error| Error::consumer(rule, consumer, error))?;
            match stopped {
                Stopped::Shutdown => Ok(()),
                Stopped::SourceEnded => Err(Error::new(ErrorKind::Ended { rule: rule.clone() })),
            }
        }
    }));
    let mut all = pin!(all);
    let mut shutdown = pin!(shutdown);
    tokio::select! {
        result = &mut all => result.map(drop),
        () = &mut shutdown => {
            info!("stopping every rule");
            let _ = stop.send(true);
            all.await.map(drop)
        }
    }
}

/// Prints to `out`, for each event that a rule's filter passes, what the rule would run,
/// acting on nothing and acknowledging nothing: events arrive live, or replayed from
/// `CHORIA_EVENTS` from `since` through an ephemeral consumer. Returns how many lines it
/// printed, once `shutdown` completes, `limit` lines were printed or the events end.
pub async fn dry_run(
    connection: &Connection,
    rules: &Rules,
    since: Option<ReplayFrom>,
    limit: Option<u64>,
    out: &mut impl Write,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, lifecycle_nats::Error> {
    // The union of what the rules want: every lifecycle event, and machine events if any
    // rule asks for them.
    let mut interest = Interest::default();
    for rule in &rules.rules {
        let wants = Interest::from_filter(&rule.filter);
        interest.transitions |= wants.transitions;
        interest.watcher_states |= wants.watcher_states;
    }
    let mut events = match since {
        Some(from) => connection.replay(&interest, from).await?,
        None => {
            let events = connection.subscribe(&interest).await?;
            connection
                .client()
                .flush()
                .await
                .map_err(lifecycle_nats::Error::flush)?;
            events
        }
    };
    info!(
        rules = rules.rules.len(),
        "dry run: printing what would run"
    );
    let mut shutdown = pin!(shutdown);
    let mut printed = 0u64;
    loop {
        if limit.is_some_and(|limit| printed >= limit) {
            return Ok(printed);
        }
        let received = tokio::select! {
            () = &mut shutdown => return Ok(printed),
            next = events.next() => match next {
                None => return Ok(printed),
                Some(Err(error)) => {
                    tracing::warn!(error = %lifecycle_core::ErrorChain(&error), "skipped");
                    continue;
                }
                Some(Ok(received)) => received,
            },
        };
        let event = received.parsed.event();
        for rule in &rules.rules {
            if !rule.filter.matches(event) {
                continue;
            }
            let what = match rule.action.prepare(&received) {
                Ok(prepared) => prepared.to_string(),
                Err(failure) => format!("would dead-letter it: {failure}"),
            };
            let line = format!("{}: {} <- {}", rule.name, what, TerminalSafe(event));
            if writeln!(out, "{}", TerminalSafe(&line)).is_err() {
                return Ok(printed);
            }
            let _ = out.flush();
            printed += 1;
        }
    }
}
