//! Waiting until a condition holds: counting events, a [`Gate`] on each node's state, or a
//! [`PassTemplate`], fed by [`Events`] until the condition holds or the events stop.

use std::time::Duration;

use lifecycle_core::duration::Since;
use lifecycle_core::{Filter, Interest, KeyBy};
use lifecycle_nats::{Connection, Received, Recurring};

use crate::error::{Error, ErrorKind};
use crate::gate::{Gate, Target};
use crate::progress::Progress;
use crate::receive::{Events, Step, Stop, Watch};
use lifecycle_tally_api::Node;
use lifecycle_template::PassTemplate;

/// What a wait waits for.
pub trait Condition {
    /// Takes an event the filter passed; returns whether what there is to show changed.
    fn observe(&mut self, received: &Received) -> bool;

    /// Whether it holds now.
    fn is_met(&self) -> bool;

    /// Whether it is about the present state, so that a replay must first catch up before it
    /// is decided (a state the fleet passed through an hour ago is no reason to stop), rather
    /// than a count of what happened, decided at once.
    fn is_state(&self) -> bool {
        true
    }

    /// Takes a node known before the events, such as a tally's ([`Wait::tally`](crate::Wait::tally)):
    /// a [`Gate`] counts it in its fleet; counts and templates ignore it.
    fn insert_node(&mut self, _node: Node) {}
}

/// Counting events or distinct identities, which a replay counts too.
impl Condition for Progress {
    fn observe(&mut self, received: &Received) -> bool {
        self.record(received.parsed.event())
    }

    fn is_met(&self) -> bool {
        Progress::is_met(self)
    }

    fn is_state(&self) -> bool {
        false
    }
}

impl Condition for Gate {
    fn observe(&mut self, received: &Received) -> bool {
        Gate::observe(self, received.parsed.event(), lifecycle_core::clock::now())
    }

    fn is_met(&self) -> bool {
        Gate::is_met(self)
    }

    fn insert_node(&mut self, node: Node) {
        Gate::insert(self, node);
    }
}

/// A [`PassTemplate`] whose renderings are kept for the caller to show, and whose errors are
/// logged (at warn, once per interval with the total: a template that fails on every event
/// makes a line every ten seconds, not one per event).
#[derive(Debug)]
pub struct TemplateWait {
    template: PassTemplate,
    output: Vec<String>,
    errors: Recurring,
}

impl TemplateWait {
    /// Waits until `template` calls `set_success` with a true condition.
    pub fn new(template: PassTemplate) -> TemplateWait {
        TemplateWait {
            template,
            output: Vec::new(),
            errors: Recurring::new("template errors"),
        }
    }

    /// The template, for its passed keys.
    pub fn template(&self) -> &PassTemplate {
        &self.template
    }

    /// What the template wrote since the last call, one entry per event that made it write
    /// something other than white space.
    pub fn take_output(&mut self) -> Vec<String> {
        std::mem::take(&mut self.output)
    }
}

impl Condition for TemplateWait {
    fn observe(&mut self, received: &Received) -> bool {
        match self.template.render(received) {
            Ok(text) if !text.trim().is_empty() => self.output.push(text),
            Ok(_) => {}
            Err(error) => self.errors.record(format_args!("{error:#}")),
        }
        true
    }

    fn is_met(&self) -> bool {
        self.template.success()
    }
}

impl Drop for TemplateWait {
    fn drop(&mut self) {
        self.errors.flush();
    }
}

/// Feeds `condition` the events until it holds (`Ok`), or the events stop first. A
/// condition about the present state ([`Condition::is_state`]) is decided only once a replay
/// has caught up. `changed` is called whenever what there is to show changed, and when the
/// replay catches up.
pub async fn wait_for<C: Condition>(
    events: &mut Events,
    condition: &mut C,
    mut changed: impl FnMut(&mut C),
) -> Result<(), Stop> {
    loop {
        if (events.is_caught_up() || !condition.is_state()) && condition.is_met() {
            return Ok(());
        }
        match events.step().await? {
            Step::CaughtUp => changed(condition),
            Step::Event(received) => {
                if condition.observe(&received) {
                    changed(condition);
                }
            }
        }
    }
}

/// Feeds `gate` the events until the replay has caught up with the present: then it holds
/// each key's state as it is now (`lifecycle nodes` without a tally).
pub async fn catch_up(events: &mut Events, gate: &mut Gate) -> Result<(), Stop> {
    while !events.is_caught_up() {
        if let Step::Event(received) = events.step().await? {
            Gate::observe(gate, received.parsed.event(), lifecycle_core::clock::now());
        }
    }
    Ok(())
}

/// The nodes `filter` selects, each in its latest state (keyed by identity and component),
/// from a replay of `CHORIA_EVENTS` since `since`, once it has caught up with the present;
/// `Ok(Err(stop))` when `timeout` passed or `stop` fired first. Every event of the components
/// the filter can name is replayed: a filter on versions selects nodes by their latest state,
/// not by the events that led there.
pub async fn replay_nodes(
    connection: &Connection,
    filter: &Filter,
    since: Since,
    timeout: Option<Duration>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Result<Vec<Node>, Stop>, Error> {
    let interest = Interest {
        components: Interest::from_filter(filter).components,
        ..Interest::default()
    };
    let mut watch = Watch::new(Filter::default())
        .interest(interest)
        .since(since)
        .stop(stop);
    if let Some(timeout) = timeout {
        watch = watch.timeout(timeout);
    }
    let mut events = match watch.open(connection).await {
        Ok(events) => events,
        Err(error) => match error.kind() {
            ErrorKind::Stopped { stop, .. } => {
                tracing::warn!("{}", lifecycle_core::ErrorChain(&error));
                return Ok(Err(*stop));
            }
            _ => return Err(error),
        },
    };
    let mut fleet = Gate::new(Filter::default(), Target::All).key_by(KeyBy::IdentityComponent);
    if let Err(stop) = catch_up(&mut events, &mut fleet).await {
        return Ok(Err(stop));
    }
    let selected = fleet
        .nodes()
        .into_iter()
        .filter(|node| filter.matches(&node.as_event()));
    Ok(Ok(selected.cloned().collect()))
}
