//! Shared by the watch tests: reading what `Events` yields, step by step.

use lifecycle_core::AnyEvent;
use lifecycle_testsupport::LIMIT;
use lifecycle_watch::{Events, Step};

/// The next `n` steps: `show(event)` for an event, `caught up`, or why it stopped.
pub(crate) async fn steps(
    events: &mut Events,
    n: usize,
    show: impl Fn(&AnyEvent) -> String,
) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let step = tokio::time::timeout(LIMIT, events.step())
            .await
            .expect("a step in time");
        seen.push(match step {
            Ok(Step::Event(received)) => show(received.parsed.event()),
            Ok(Step::CaughtUp) => "caught up".to_owned(),
            Err(stop) => format!("{stop:?}"),
        });
    }
    seen
}
