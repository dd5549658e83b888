//! What an engine did, as Prometheus metrics (prometheus-client).

use std::fmt;
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Metric, Registry};

/// How long attempts took, in seconds: 5 ms doubling to about 160 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

/// What every engine counts, as counters (one engine) or families of them (several).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters<C> {
    pub(crate) matched: C,
    pub(crate) succeeded: C,
    pub(crate) failed: C,
    pub(crate) retried: C,
    pub(crate) dead_lettered: C,
    pub(crate) deduplicated: C,
    pub(crate) invalid: C,
    pub(crate) dead_letters_lost: C,
}

impl<C: Clone> Counters<C> {
    /// Each, in [`COUNTERS`]' order.
    fn all(&self) -> [C; 8] {
        [
            self.matched.clone(),
            self.succeeded.clone(),
            self.failed.clone(),
            self.retried.clone(),
            self.dead_lettered.clone(),
            self.deduplicated.clone(),
            self.invalid.clone(),
            self.dead_letters_lost.clone(),
        ]
    }

    /// Each made into another kind by `f`.
    fn map<D>(&self, f: impl Fn(&C) -> D) -> Counters<D> {
        Counters {
            matched: f(&self.matched),
            succeeded: f(&self.succeeded),
            failed: f(&self.failed),
            retried: f(&self.retried),
            dead_lettered: f(&self.dead_lettered),
            deduplicated: f(&self.deduplicated),
            invalid: f(&self.invalid),
            dead_letters_lost: f(&self.dead_letters_lost),
        }
    }
}

/// One engine's metrics. Cloning shares them.
#[derive(Debug, Clone)]
pub struct RuleMetrics {
    /// Counted by the engine with `inc()`.
    pub(crate) counters: Counters<Counter>,
    running: Gauge,
    duration: Histogram,
    dropped: Dropped,
}

impl Default for RuleMetrics {
    fn default() -> Self {
        RuleMetrics {
            counters: Counters::default(),
            running: Gauge::default(),
            duration: duration_histogram(),
            dropped: Dropped::default(),
        }
    }
}

impl RuleMetrics {
    /// Events the filter passed.
    pub fn matched(&self) -> u64 {
        self.counters.matched.get()
    }

    /// Events handled successfully.
    pub fn succeeded(&self) -> u64 {
        self.counters.succeeded.get()
    }

    /// Attempts that failed (transient or permanent).
    pub fn failed(&self) -> u64 {
        self.counters.failed.get()
    }

    /// Attempts that failed and were tried again.
    pub fn retried(&self) -> u64 {
        self.counters.retried.get()
    }

    /// Events given up on: failed permanently or out of attempts.
    pub fn dead_lettered(&self) -> u64 {
        self.counters.dead_lettered.get()
    }

    /// Dead letters no stream stored: lost.
    pub fn dead_letters_lost(&self) -> u64 {
        self.counters.dead_letters_lost.get()
    }

    /// Events skipped because their key was acted on within the dedupe window.
    pub fn deduplicated(&self) -> u64 {
        self.counters.deduplicated.get()
    }

    /// Messages that were no lifecycle event: terminated, so that they never come back.
    pub fn invalid(&self) -> u64 {
        self.counters.invalid.get()
    }

    /// Attempts running now.
    pub fn running(&self) -> i64 {
        self.running.get()
    }

    /// Events a live run dropped: those its source dropped before the engine saw them (a
    /// NATS subscription that fell behind), as told by [`RuleMetrics::count_dropped_from`],
    /// and those it held, not yet delivered, when it was stopped (a live subscription does
    /// not deliver them again).
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Reads the dropped events from `total` whenever they are asked for (a connection's
    /// slow-consumer counter). Only the first call counts.
    pub fn count_dropped_from(&self, total: impl Fn() -> u64 + Send + Sync + 'static) {
        let _ = self.dropped.source.set(Box::new(total));
    }

    /// Counts events a live run was stopped before it delivered.
    pub(crate) fn count_dropped(&self, events: u64) {
        self.dropped.stopped.inc_by(events);
    }

    /// Counts an attempt as running until the guard is dropped, then records how long it
    /// took.
    pub(crate) fn attempt(&self) -> Running<'_> {
        self.running.inc();
        Running {
            metrics: self,
            started: std::time::Instant::now(),
        }
    }

    /// Registers them, unlabelled, in `registry` (give it a prefix such as
    /// `lifecycle_forward`): `matched_total`, `succeeded_total`, `failed_total`,
    /// `retried_total`, `dead_lettered_total`, `deduplicated_total`, `invalid_total`,
    /// `dead_letters_lost_total`, `running`, `action_duration_seconds` and `dropped_total`.
    pub fn register(&self, registry: &mut Registry) {
        register_common(
            registry,
            &self.counters,
            self.running.clone(),
            self.duration.clone(),
        );
        registry.register(
            "dropped",
            "Events dropped before they were handled: they arrived faster than they were \
             handled (NATS slow consumer), or a live run was stopped before it delivered them",
            self.dropped.clone(),
        );
    }
}

/// An attempt under way: see [`RuleMetrics::attempt`].
pub(crate) struct Running<'a> {
    metrics: &'a RuleMetrics,
    started: std::time::Instant,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.metrics.running.dec();
        self.metrics
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// Registers what every engine counts, named and described once for its two kinds of
/// metrics: the counters matched, succeeded, failed, retried, dead-lettered, deduplicated,
/// invalid and dead letters lost, then the running gauge and the duration histogram.
fn register_common<C: Metric + Clone, G: Metric, H: Metric>(
    registry: &mut Registry,
    counters: &Counters<C>,
    running: G,
    duration: H,
) {
    for ((name, help), counter) in COUNTERS.into_iter().zip(counters.all()) {
        registry.register(name, help, counter);
    }
    registry.register("running", "Attempts running now", running);
    registry.register(
        "action_duration_seconds",
        "How long attempts took",
        duration,
    );
}

/// The counters' names and help, in [`Counters::all`]' order.
const COUNTERS: [(&str, &str); 8] = [
    ("matched", "Events the filter passed"),
    ("succeeded", "Events handled successfully and acknowledged"),
    ("failed", "Attempts that failed, transient or permanent"),
    ("retried", "Attempts that failed and were tried again"),
    (
        "dead_lettered",
        "Events given up on (failed permanently or out of attempts), dead-lettered and \
             acknowledged",
    ),
    (
        "deduplicated",
        "Events skipped because their key was acted on within the dedupe window",
    ),
    (
        "invalid",
        "Messages that were no lifecycle event, terminated so that they never come back",
    ),
    (
        "dead_letters_lost",
        "Dead letters no stream stored, so lost (lifecycle streams create makes \
             LIFECYCLE_DEAD_LETTERS for lifecycle.dead.>)",
    ),
];

type Label = Vec<(&'static str, String)>;

/// The metrics of several engines, one series per engine under the label `rule`. Cloning
/// shares them.
#[derive(Debug, Clone)]
pub struct Metrics {
    counters: Counters<Family<Label, Counter>>,
    running: Family<Label, Gauge>,
    duration: Family<Label, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            counters: Counters::default(),
            running: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
        }
    }
}

impl Metrics {
    /// The metrics of the engine `rule`: its series, created at 0 (so they show before
    /// anything happened).
    pub fn rule(&self, rule: &str) -> RuleMetrics {
        let label: Label = vec![("rule", rule.to_owned())];
        RuleMetrics {
            counters: self
                .counters
                .map(|family| family.get_or_create(&label).clone()),
            running: self.running.get_or_create(&label).clone(),
            duration: self.duration.get_or_create(&label).clone(),
            dropped: Dropped::default(),
        }
    }

    /// Registers them in `registry` (give it a prefix such as `lifecycle_react`), with the
    /// names of [`RuleMetrics::register`] but `dropped_total` (a durable consumer drops
    /// nothing).
    pub fn register(&self, registry: &mut Registry) {
        register_common(
            registry,
            &self.counters,
            self.running.clone(),
            self.duration.clone(),
        );
    }
}

/// Dropped events: a counter kept by the source, read when it is encoded, plus those the
/// engine was stopped before delivering.
#[derive(Clone, Default)]
struct Dropped {
    source: Arc<OnceLock<Box<dyn Fn() -> u64 + Send + Sync>>>,
    stopped: Counter,
}

impl Dropped {
    fn get(&self) -> u64 {
        self.source.get().map_or(0, |total| total()) + self.stopped.get()
    }
}

impl fmt::Debug for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Dropped").field(&self.get()).finish()
    }
}

impl TypedMetric for Dropped {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for Dropped {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn text(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn one_engine_unlabelled() {
        let metrics = RuleMetrics::default();
        metrics.counters.matched.inc();
        metrics.counters.matched.inc();
        metrics.counters.succeeded.inc();
        metrics.counters.failed.inc();
        metrics.counters.retried.inc();
        metrics.counters.dead_lettered.inc();
        drop(metrics.attempt());
        let dropped = Arc::new(AtomicU64::new(0));
        let source = dropped.clone();
        metrics.count_dropped_from(move || source.load(Ordering::Relaxed));
        dropped.store(67_618, Ordering::Relaxed);
        let mut registry = Registry::default();
        metrics.register(registry.sub_registry_with_prefix("lifecycle_forward"));
        let text = text(&registry);
        for line in [
            "lifecycle_forward_matched_total 2\n",
            "lifecycle_forward_succeeded_total 1\n",
            "lifecycle_forward_failed_total 1\n",
            "lifecycle_forward_retried_total 1\n",
            "lifecycle_forward_dead_lettered_total 1\n",
            "lifecycle_forward_deduplicated_total 0\n",
            "lifecycle_forward_invalid_total 0\n",
            "lifecycle_forward_running 0\n",
            "lifecycle_forward_action_duration_seconds_count 1\n",
            "lifecycle_forward_dropped_total 67618\n",
            "# TYPE lifecycle_forward_dropped counter\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(metrics.dropped(), 67_618);
    }

    #[test]
    fn dropped_adds_what_a_stopped_live_run_held_to_what_its_source_dropped() {
        let metrics = RuleMetrics::default();
        metrics.count_dropped(2);
        assert_eq!(metrics.dropped(), 2, "before the source's counter is known");
        metrics.count_dropped_from(|| 5);
        metrics.count_dropped(1);
        assert_eq!(metrics.dropped(), 8);
        let mut registry = Registry::default();
        metrics.register(registry.sub_registry_with_prefix("lifecycle_forward"));
        assert!(
            text(&registry).contains("lifecycle_forward_dropped_total 8\n"),
            "{}",
            text(&registry)
        );
    }

    #[test]
    fn several_engines_one_series_each() {
        let metrics = Metrics::default();
        let provision = metrics.rule("provision");
        let notify = metrics.rule("notify-cd");
        provision.counters.matched.inc();
        provision.counters.succeeded.inc();
        notify.counters.dead_lettered.inc();
        let _running = notify.attempt();
        assert_eq!(metrics.rule("provision").succeeded(), 1, "shared");
        let mut registry = Registry::default();
        metrics.register(registry.sub_registry_with_prefix("lifecycle_react"));
        let text = text(&registry);
        for line in [
            "lifecycle_react_matched_total{rule=\"provision\"} 1\n",
            "lifecycle_react_matched_total{rule=\"notify-cd\"} 0\n",
            "lifecycle_react_succeeded_total{rule=\"provision\"} 1\n",
            "lifecycle_react_dead_lettered_total{rule=\"notify-cd\"} 1\n",
            "lifecycle_react_running{rule=\"notify-cd\"} 1\n",
            "lifecycle_react_running{rule=\"provision\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(
            text.matches("# TYPE lifecycle_react_matched counter")
                .count(),
            1
        );
    }
}
