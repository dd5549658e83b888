//! `lifecycle forward`: POST events to a CloudEvents receiver.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::{StreamExt, future};
use lifecycle_cloudevents::prometheus_client::registry::Registry;
use lifecycle_cloudevents::{
    Backoff, Forwarder, Metrics, Mode, Outcome, Pending, REQUEST_TIMEOUT, Stopped, Undeliverable,
};
use lifecycle_core::{AnyEvent, Filter};
use lifecycle_nats::{
    Connection, DeadLetter, DeadLetters, Delivery, Interest, Received, Recurring, WARNING_INTERVAL,
};

use tracing::{debug, info, warn};

use crate::connect::ConnectArgs;
use crate::duration;

/// Forward events to a CloudEvents receiver (Knative, OpenFaaS, an event gateway...) over
/// HTTP, one at a time and in order.
///
/// Without --durable the events are received live: while the receiver is away, each is
/// retried up to --max-attempts times (10). With --durable NAME they come from the JetStream
/// stream CHORIA_EVENTS through a durable consumer of that name, and each is acknowledged
/// only once the receiver answered 2xx or it was dead-lettered: a receiver (or this command)
/// that is down for a while misses nothing, events arrive at least once, in order. A durable
/// consumer starts with the events stored after it was first created.
///
/// An event that can never be delivered (the receiver answers 4xx other than 408 and 429, or
/// it cannot be made into a request) is dead-lettered at once, and one still failing after
/// --max-attempts is too: logged with its id and why, counted, published as it came to
/// --dead-letter SUBJECT when given (headers Lifecycle-Dead-Letter-Reason, -Attempts,
/// -Consumer, -Handler), and acknowledged, so nothing behind it waits.
///
/// Examples:
///   lifecycle forward --to http://broker.example.net/default
///   lifecycle forward --to http://gw.example.net/ --filter 'startup,provisioned' --durable provisioner
///   lifecycle forward --to http://gw.example.net/ --durable cd --dead-letter lifecycle.dead.cd
///   lifecycle forward --to http://gw.example.net/ --mode structured --metrics 127.0.0.1:9100
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The receiver's URL (http or https).
    #[arg(long, value_name = "URL")]
    to: String,

    /// Filter expression, e.g. 'alive,identity=web*,.version>=0.29.0'.
    #[arg(long, short = 'f', value_name = "EXPR", value_parser = crate::view::filter)]
    filter: Option<String>,

    /// CloudEvents HTTP content mode: attributes in ce-* headers, or one JSON document.
    #[arg(long, value_name = "MODE", default_value = "binary", value_parser = ["binary", "structured"])]
    mode: String,

    /// Consume from JetStream with this durable consumer, acknowledging after delivery.
    #[arg(long, value_name = "NAME")]
    durable: Option<String>,

    /// With --durable: how long the server waits for an acknowledgement before it delivers
    /// an event again (the forwarder extends it while it retries).
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

    /// Serve Prometheus metrics (lifecycle_forward_*) on this address, e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// Where dead letters go, and what their headers say.
struct DeadLetterSink {
    letters: Option<DeadLetters>,
    consumer: Option<String>,
    handler: String,
}

impl DeadLetterSink {
    /// Publishes `received` to the dead-letter subject, if there is one.
    async fn keep(&self, received: &Received, undeliverable: Undeliverable) {
        let Some(letters) = &self.letters else {
            return;
        };
        let letter = DeadLetter {
            reason: undeliverable.reason,
            attempts: undeliverable.attempts,
            consumer: self.consumer.clone(),
            handler: self.handler.clone(),
        };
        match letters.publish(received, &letter).await {
            Ok(()) => {
                debug!(id = ?received.parsed.event().id(), subject = letters.subject(), "dead letter published")
            }
            Err(error) => warn!(
                id = ?received.parsed.event().id(),
                subject = letters.subject(),
                %error,
                "cannot publish the dead letter"
            ),
        }
    }
}

/// An event received live: nothing to acknowledge.
struct Live {
    received: Received,
    sink: Arc<DeadLetterSink>,
}

impl Pending for Live {
    fn event(&self) -> &AnyEvent {
        self.received.parsed.event()
    }

    async fn settle(self, _outcome: Outcome) {}

    async fn dead_letter(self, undeliverable: Undeliverable) {
        self.sink.keep(&self.received, undeliverable).await;
    }
}

/// An event of the durable consumer: acknowledged when delivered or dead-lettered, handed
/// back otherwise.
struct Durable {
    delivery: Delivery,
    sink: Arc<DeadLetterSink>,
}

impl Pending for Durable {
    fn event(&self) -> &AnyEvent {
        self.delivery.event()
    }

    async fn in_progress(&mut self) {
        if let Err(error) = self.delivery.in_progress().await {
            warn!(%error, "cannot extend the acknowledgement wait");
        }
    }

    async fn settle(self, outcome: Outcome) {
        let id = self.delivery.event().id().to_owned();
        let result = match outcome {
            Outcome::Delivered | Outcome::Rejected | Outcome::Failed => self.delivery.ack().await,
            Outcome::Abandoned => self.delivery.nak(None).await,
        };
        match result {
            Ok(()) => debug!(id = ?id, ?outcome, "settled"),
            Err(error) => {
                warn!(id = ?id, ?outcome, %error, "cannot settle the event with JetStream; it will be delivered again")
            }
        }
    }

    async fn dead_letter(self, undeliverable: Undeliverable) {
        let outcome = undeliverable.outcome;
        self.sink.keep(&self.delivery.received, undeliverable).await;
        // Done with it: nothing behind it waits.
        self.settle(outcome).await;
    }
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
    let forwarder = Forwarder::new(&args.to, mode)?.with_backoff(Backoff {
        initial: Duration::from_millis(100).min(args.max_backoff),
        max: args.max_backoff,
        attempts,
    });
    if args.durable.is_some() && args.ack_wait <= args.max_backoff + REQUEST_TIMEOUT {
        warn!(
            ack_wait = ?args.ack_wait,
            "--ack-wait is not longer than --max-backoff plus the 10s request timeout: an event \
             still being retried may be delivered again"
        );
    }
    let runtime = crate::connect::runtime()?;
    runtime.block_on(async {
        if let Some(addr) = args.metrics {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for --metrics"))?;
            let mut registry = Registry::default();
            forwarder.metrics().register(&mut registry);
            info!(addr = %listener.local_addr()?, "serving metrics");
            let router = lifecycle_http::metrics_router(Arc::new(registry));
            tokio::spawn(async move {
                let limits = lifecycle_http::Limits::default();
                if let Err(error) =
                    lifecycle_http::serve(listener, router, limits, std::future::pending()).await
                {
                    warn!(%error, "the metrics server stopped");
                }
            });
        }
        let connection = args.connect.connect().await?;
        let counted = connection.clone();
        forwarder
            .metrics()
            .count_dropped_from(move || counted.dropped());
        tokio::spawn(report_progress(
            forwarder.metrics().clone(),
            connection.clone(),
        ));
        let sink = Arc::new(DeadLetterSink {
            letters: args
                .dead_letter
                .as_deref()
                .map(|subject| connection.dead_letters(subject))
                .transpose()?,
            consumer: args.durable.clone(),
            handler: forwarder.receiver(),
        });
        let interest = Interest::from_filter(&filter);
        let filter = Arc::new(filter);
        let invalid = Arc::new(std::sync::Mutex::new(Recurring::new(
            "invalid messages skipped",
        )));
        let skip = move |error: &dyn std::fmt::Display| {
            invalid
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(error);
        };
        let stopped = match &args.durable {
            None => {
                let events = connection.subscribe(&interest).await?;
                connection.client().flush().await?;
                info!(subjects = ?interest.subjects()?, "receiving events");
                let events = events.filter_map(move |received| {
                    future::ready(match received {
                        Ok(received) if filter.matches(received.parsed.event()) => Some(Live {
                            received,
                            sink: sink.clone(),
                        }),
                        Ok(_) => None,
                        Err(error) => {
                            skip(&error);
                            None
                        }
                    })
                });
                forwarder.run(events, crate::shutdown::requested()).await
            }
            Some(name) => {
                let events = connection
                    .durable(name, &interest, args.ack_wait)
                    .await
                    .with_context(|| format!("cannot open the durable consumer '{name}'"))?;
                let events = events.filter_map(move |delivery| {
                    let filter = filter.clone();
                    let sink = sink.clone();
                    let skip = skip.clone();
                    async move {
                        match delivery {
                            Ok(delivery) if filter.matches(delivery.event()) => {
                                Some(Durable { delivery, sink })
                            }
                            Ok(skipped) => {
                                // Not for this receiver: done with it.
                                if let Err(error) = skipped.ack().await {
                                    warn!(%error, "cannot acknowledge a filtered-out event");
                                }
                                None
                            }
                            Err(error) => {
                                skip(&error);
                                None
                            }
                        }
                    }
                });
                forwarder.run(events, crate::shutdown::requested()).await
            }
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

/// Tells the slow-consumer drops the connection's last warning did not count, every
/// [`WARNING_INTERVAL`], and logs the counters every third time if they changed.
async fn report_progress(metrics: Metrics, connection: Connection) {
    let mut last = (0, 0, 0, 0);
    let mut every = tokio::time::interval(WARNING_INTERVAL);
    for tick in 0u64.. {
        every.tick().await;
        connection.report_dropped();
        if tick % 3 != 0 {
            continue;
        }
        let now = (
            metrics.delivered(),
            metrics.retried(),
            metrics.dead_lettered(),
            metrics.dropped(),
        );
        if now != last {
            info!(
                delivered = now.0,
                retried = now.1,
                dead_lettered = now.2,
                dropped = now.3,
                "forwarding progress"
            );
            last = now;
        }
    }
}
