//! What a forwarder did, as counters that can be registered with prometheus-client.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// The forwarder's counters. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    delivered: Counter,
    retried: Counter,
    failed: Counter,
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

    /// Events given up on: refused by the receiver for good (4xx other than 408 and 429),
    /// not convertible, or still failing after the last attempt.
    pub fn failed(&self) -> u64 {
        self.failed.get()
    }

    pub(crate) fn count_delivered(&self) {
        self.delivered.inc();
    }

    pub(crate) fn count_retried(&self) {
        self.retried.inc();
    }

    pub(crate) fn count_failed(&self) {
        self.failed.inc();
    }

    /// Registers the counters as `lifecycle_forward_{delivered,retried,failed}_total`.
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
            "failed",
            "Events given up on: refused for good or out of attempts",
            self.failed.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_and_values() {
        let metrics = Metrics::default();
        metrics.count_delivered();
        metrics.count_delivered();
        metrics.count_retried();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("lifecycle_forward_delivered_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("lifecycle_forward_retried_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("lifecycle_forward_failed_total 0\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE lifecycle_forward_delivered counter\n"),
            "{text}"
        );
    }
}
