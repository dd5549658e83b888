//! A node as `wait` and `nodes` keep and print it, and as the tally's `/api/v1/nodes` lists it.

use std::fmt;
use std::str::FromStr;

use lifecycle_core::{AnyEvent, Event, NodeState};
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

/// Which events share a key, whose latest event decides whether it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyBy {
    /// One key per identity (a node).
    #[default]
    Identity,
    /// One key per component.
    Component,
    /// One key per component on each node.
    IdentityComponent,
}

impl KeyBy {
    /// The key of an event from `identity` about `component`.
    pub(crate) fn key(self, identity: &str, component: &str) -> Key {
        match self {
            KeyBy::Identity => Key(identity.into(), String::new()),
            KeyBy::Component => Key(String::new(), component.into()),
            KeyBy::IdentityComponent => Key(identity.into(), component.into()),
        }
    }

    /// `identity`, `component` or `identity+component`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyBy::Identity => "identity",
            KeyBy::Component => "component",
            KeyBy::IdentityComponent => "identity+component",
        }
    }
}

impl fmt::Display for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "identity" => Ok(KeyBy::Identity),
            "component" => Ok(KeyBy::Component),
            "identity+component" | "component+identity" => Ok(KeyBy::IdentityComponent),
            other => Err(format!(
                "unknown key '{}' (expected identity, component or identity+component)",
                lifecycle_core::TerminalSafe(other)
            )),
        }
    }
}

/// The identity and component parts of a key, the part [`KeyBy`] leaves out empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key(pub(crate) String, pub(crate) String);
