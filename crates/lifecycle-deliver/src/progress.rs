//! What a long-running engine logs of itself, now and then.

use lifecycle_nats::{Connection, WARNING_INTERVAL};
use tracing::info;

use crate::RuleMetrics;

/// Runs until dropped (spawn it): every [`WARNING_INTERVAL`] tells the slow-consumer drops the
/// connection's last warning did not count ([`Connection::report_dropped`]), and every third
/// time logs `metrics`' counters (succeeded, retried, dead-lettered, dropped) at info when
/// they changed, with the message `"{what} progress"`.
pub async fn report_progress(metrics: RuleMetrics, connection: Connection, what: &'static str) {
    let mut last = (0, 0, 0, 0);
    let mut every = tokio::time::interval(WARNING_INTERVAL);
    for tick in 0u64.. {
        every.tick().await;
        connection.report_dropped();
        if tick % 3 != 0 {
            continue;
        }
        let now = (
            metrics.succeeded(),
            metrics.retried(),
            metrics.dead_lettered(),
            metrics.dropped(),
        );
        if now != last {
            info!(
                succeeded = now.0,
                retried = now.1,
                dead_lettered = now.2,
                dropped = now.3,
                "{what} progress"
            );
            last = now;
        }
    }
}
