//! What a forwarder did, as counters that can be registered with prometheus-client.

use std::fmt;
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The forwarder's counters. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    delivered: Counter,
    retried: Counter,
    dead_letter: Counter,
    dropped: Dropped,
}

impl Metrics {
    /// Events the receiver accepted (answered 2xx).
    pub fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    /// Attempts that failed and were tried again.
    pub fn retried(&self) -> u64 {
        self.retried.get()
    }

    /// Events given up on and dead-lettered: refused for good by the receiver (4xx other
    /// than 408 and 429), impossible to make into a request, or still failing after the
    /// last attempt.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_letter.get()
    }

    /// The same as [`Metrics::dead_lettered`], under its former name.
    pub fn failed(&self) -> u64 {
        self.dead_lettered()
    }

    /// Events the source dropped before the forwarder saw them (a NATS subscription that
    /// fell behind), as told by [`Metrics::count_dropped_from`]; 0 until then.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Reads the dropped events from `total` whenever they are asked for (a connection's
    /// slow-consumer counter). Only the first call counts.
    pub fn count_dropped_from(&self, total: impl Fn() -> u64 + Send + Sync + 'static) {
        let _ = self.dropped.0.set(Box::new(total));
    }

    pub(crate) fn count_delivered(&self) {
        self.delivered.inc();
    }

    pub(crate) fn count_retried(&self) {
        self.retried.inc();
    }

    pub(crate) fn count_dead_letter(&self) {
        self.dead_letter.inc();
    }

    /// Registers the counters as
    /// `lifecycle_forward_{delivered,retried,dead_letter,dropped}_total`.
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("lifecycle_forward");
        sub.register(
            "delivered",
            "Events the CloudEvents receiver accepted",
            self.delivered.clone(),
        );
        sub.register(
            "retried",
            "Delivery attempts that failed and were retried",
            self.retried.clone(),
        );
        sub.register(
            "dead_letter",
            "Events given up on (refused for good, impossible to send, or out of attempts), \
             dead-lettered and acknowledged",
            self.dead_letter.clone(),
        );
        sub.register(
            "dropped",
            "Events dropped before they could be forwarded because they arrived faster than \
             they were forwarded (NATS slow consumer)",
            self.dropped.clone(),
        );
    }
}

/// A counter kept elsewhere, read when it is encoded.
#[derive(Clone, Default)]
struct Dropped(Arc<OnceLock<Box<dyn Fn() -> u64 + Send + Sync>>>);

impl Dropped {
    fn get(&self) -> u64 {
        self.0.get().map_or(0, |total| total())
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

    #[test]
    fn exposition_names_and_values() {
        let metrics = Metrics::default();
        metrics.count_delivered();
        metrics.count_delivered();
        metrics.count_retried();
        metrics.count_dead_letter();
        let dropped = Arc::new(AtomicU64::new(0));
        let source = dropped.clone();
        metrics.count_dropped_from(move || source.load(Ordering::Relaxed));
        dropped.store(67_618, Ordering::Relaxed);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "lifecycle_forward_delivered_total 2\n",
            "lifecycle_forward_retried_total 1\n",
            "lifecycle_forward_dead_letter_total 1\n",
            "lifecycle_forward_dropped_total 67618\n",
            "# TYPE lifecycle_forward_delivered counter\n",
            "# TYPE lifecycle_forward_dropped counter\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(
            (metrics.dead_lettered(), metrics.failed(), metrics.dropped()),
            (1, 1, 67_618)
        );
    }
}
