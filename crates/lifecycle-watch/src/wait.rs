//! A whole wait, as `lifecycle wait` runs it: open a watch, start its fleet from a tally,
//! feed a condition until it holds or the events stop.

use lifecycle_core::Filter;
use lifecycle_core::duration::Since;
use lifecycle_core::selection::StateSelection;
use lifecycle_nats::Connection;
use tokio::time::Instant;
use tracing::warn;

use crate::condition::{Condition, wait_for};
use crate::error::{Error, ErrorKind};
use crate::receive::{Stop, Watch};
use crate::tally::TallyClient;

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    /// `None` when the condition holds; else why the events stopped first.
    pub stop: Option<Stop>,
    /// Whether a replay had caught up with the present (always true without one): a state
    /// shown before it had is the state as of the events replayed so far.
    pub caught_up: bool,
}

/// A wait: the events a filter passes (replayed first when asked, until a deadline or a
/// stop signal) fed to a [`Condition`] until it holds, the fleet first read from a tally
/// when asked.
pub struct Wait {
    watch: Watch,
    deadline: Option<Instant>,
    tally: Option<(TallyClient, String)>,
}

impl Wait {
    /// The events `filter` passes, from now on, until the condition holds.
    pub fn new(filter: Filter) -> Wait {
        Wait {
            watch: Watch::new(filter),
            deadline: None,
            tally: None,
        }
    }

    /// First replay the events stored since then ([`Watch::since`]).
    pub fn since(mut self, since: Since) -> Wait {
        self.watch = self.watch.since(since);
        self
    }

    /// Give up at `deadline`, reading the tally included.
    pub fn deadline(mut self, deadline: Instant) -> Wait {
        self.watch = self.watch.deadline(deadline);
        self.deadline = Some(deadline);
        self
    }

    /// Stop when `signal` completes ([`Watch::stop`]).
    pub fn stop(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Wait {
        self.watch = self.watch.stop(signal);
        self
    }

    /// Start from `tally`'s up nodes that `filter` (the filter language) selects, handed to
    /// [`Condition::insert_node`] once subscribed, so that nothing happening meanwhile is missed.
    pub fn tally(mut self, tally: TallyClient, filter: impl Into<String>) -> Wait {
        self.tally = Some((tally, filter.into()));
        self
    }

    /// Runs the wait on `connection`: `changed` is called once before the first event and
    /// then as [`wait_for`] calls it.
    pub async fn run<C: Condition>(
        self,
        connection: &Connection,
        condition: &mut C,
        mut changed: impl FnMut(&mut C),
    ) -> Result<Waited, Error> {
        let mut events = match self.watch.open(connection).await {
            Ok(events) => events,
            Err(error) => {
                let ErrorKind::Stopped { stop, .. } = error.kind() else {
                    return Err(error);
                };
                // What it waited for, since the wait ends as if its events had stopped.
                warn!("{}", lifecycle_core::ErrorChain(&error));
                return Ok(Waited {
                    stop: Some(*stop),
                    caught_up: false,
                });
            }
        };
        if let Some((tally, filter)) = self.tally {
            let read = tally.nodes(&filter, StateSelection::Up);
            let nodes = match self.deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, read).await {
                    Ok(nodes) => nodes?,
                    Err(_) => {
                        return Ok(Waited {
                            stop: Some(Stop::Timeout),
                            caught_up: events.is_caught_up(),
                        });
                    }
                },
                None => read.await?,
            };
            for node in nodes {
                condition.insert_node(node);
            }
        }
        changed(condition);
        let stop = wait_for(&mut events, condition, &mut changed).await.err();
        Ok(Waited {
            stop,
            caught_up: events.is_caught_up(),
        })
    }
}
