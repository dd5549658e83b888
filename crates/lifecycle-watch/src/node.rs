//! A node as `wait` and `nodes` keep and print it, and as the tally's `/api/v1/nodes` lists it.

use lifecycle_core::{AnyEvent, Event, KeyBy, NodeState};
use serde::{Deserialize, Serialize};

/// A component on a node, and its latest state: one member of `/api/v1/nodes`' `nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's identity.
    pub identity: String,
    /// The component.
    pub component: String,
    /// The version it runs (empty when no event said).
    pub version: String,
    /// When it was last seen, unix seconds.
    pub last_seen: i64,
    /// Up, or lost (a tally that lists no state lists nodes that are up).
    #[serde(default = "up")]
    pub state: NodeState,
}

fn up() -> NodeState {
    NodeState::Up
}

impl Node {
    /// The node as the event the filter language selects nodes with
    /// ([`Event::node_state`]).
    pub fn as_event(&self) -> AnyEvent {
        Event::node_state(
            &self.identity,
            &self.component,
            &self.version,
            self.last_seen,
            self.state,
        )
        .into()
    }
}

/// The key of an event from `identity` about `component`: the parts `by` leaves out empty.
pub(crate) fn key(by: KeyBy, identity: &str, component: &str) -> Key {
    match by {
        KeyBy::Identity => Key(identity.into(), String::new()),
        KeyBy::Component => Key(String::new(), component.into()),
        KeyBy::IdentityComponent => Key(identity.into(), component.into()),
    }
}

/// The identity and component parts of a key, the part [`KeyBy`] leaves out empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key(pub(crate) String, pub(crate) String);
