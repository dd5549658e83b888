//! A node's latest state, as the tally and `wait` keep it: what each lifecycle event says
//! about the component that sent it ([`NodeChange`]), and that state as the event the filter
//! language evaluates ([`Event::node_state`]), so that one filter selects nodes wherever
//! their state is kept.

use std::fmt;
use std::str::FromStr;

use crate::AnyEvent;
use crate::event::{Event, EventKind};

/// What a lifecycle event says about the state of the component that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChange<'e> {
    /// It runs this version: startup and alive give theirs, upgraded its `new_version`.
    Runs(&'e str),
    /// It shut down: it is gone, not lost.
    Stopped,
    /// Nothing about its state (provisioned, governor).
    Unchanged,
}

impl Event {
    /// What this event says about the state of the component that sent it.
    pub fn node_change(&self) -> NodeChange<'_> {
        match &self.kind {
            EventKind::Startup { version } | EventKind::Alive { version } => {
                NodeChange::Runs(version)
            }
            EventKind::Upgraded { new_version, .. } => NodeChange::Runs(new_version),
            EventKind::Shutdown => NodeChange::Stopped,
            EventKind::Provisioned | EventKind::Governor { .. } => NodeChange::Unchanged,
        }
    }

    /// A node's latest state as the alive event the filter language evaluates on nodes:
    /// `identity`, `component`, `version`, `timestamp` the time it was last seen, and the
    /// extra members `last_seen` (the same unix seconds) and `state` (`"up"` or `"lost"`).
    /// Its id is empty: it was never sent.
    ///
    /// ```
    /// use lifecycle_core::{Event, Filter, NodeState};
    ///
    /// let node = Event::node_state("web1", "server", "0.29.4", 1_700_000_000, NodeState::Lost);
    /// let filter = Filter::parse("component=server,.version<0.30.0,.state=lost").unwrap();
    /// assert!(filter.matches(&node.into()));
    /// ```
    pub fn node_state(
        identity: &str,
        component: &str,
        version: &str,
        last_seen: i64,
        state: NodeState,
    ) -> Event {
        // Written by serde_json, not parsed back: a tally filters a million of these.
        let extra = [
            ("last_seen", serde_json::value::to_raw_value(&last_seen)),
            ("state", serde_json::value::to_raw_value(state.as_str())),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.into(), value.ok()?)))
        .collect();
        Event {
            id: "".into(),
            identity: identity.into(),
            component: component.into(),
            timestamp: last_seen,
            kind: EventKind::Alive {
                version: version.into(),
            },
            extra,
        }
    }
}

/// Whether a known node still reports: *up*, or *lost* (it stopped reporting without a
/// shutdown, and the tally keeps it for a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeState {
    /// It reports.
    Up,
    /// It stopped reporting without a shutdown.
    Lost,
}

impl NodeState {
    /// `up` or `lost`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Up => "up",
            NodeState::Lost => "lost",
        }
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node state that is neither `up` nor `lost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNodeState(pub String);

impl fmt::Display for UnknownNodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown node state '{}' (expected up or lost)",
            crate::terminal::TerminalSafe(&self.0)
        )
    }
}

impl std::error::Error for UnknownNodeState {}

impl FromStr for NodeState {
    type Err = UnknownNodeState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "up" => Ok(NodeState::Up),
            "lost" => Ok(NodeState::Lost),
            other => Err(UnknownNodeState(other.to_owned())),
        }
    }
}

impl serde_core::Serialize for NodeState {
    fn serialize<S: serde_core::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde_core::Deserialize<'de> for NodeState {
    fn deserialize<D: serde_core::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde_core::de::Error::custom)
    }
}

/// What one node is, wherever events are kept or ordered per node: the identity (the
/// default), the component, or each component on each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyBy {
    /// One key per identity (a node).
    #[default]
    Identity,
    /// One key per component (machine events have none: they share one key).
    Component,
    /// One key per component on each node.
    IdentityComponent,
}

impl KeyBy {
    /// The names [`KeyBy::from_str`] takes (`component+identity` too).
    pub const NAMES: [&'static str; 3] = ["identity", "component", "identity+component"];

    /// `identity`, `component` or `identity+component`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyBy::Identity => "identity",
            KeyBy::Component => "component",
            KeyBy::IdentityComponent => "identity+component",
        }
    }

    /// The key of `event`, as one string.
    pub fn of(self, event: &AnyEvent) -> String {
        let component = event.component().unwrap_or_default();
        match self {
            KeyBy::Identity => event.identity().to_owned(),
            KeyBy::Component => component.to_owned(),
            // Length-prefixed: ("a.b", "c") and ("a", "b.c") never meet.
            KeyBy::IdentityComponent => {
                format!(
                    "{}:{}{}",
                    event.identity().len(),
                    event.identity(),
                    component
                )
            }
        }
    }
}

impl fmt::Display for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key name that is not one of [`KeyBy::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey(pub String);

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown key '{}' (expected identity, component or identity+component)",
            crate::terminal::TerminalSafe(&self.0)
        )
    }
}

impl std::error::Error for UnknownKey {}

impl FromStr for KeyBy {
    type Err = UnknownKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "identity" => Ok(KeyBy::Identity),
            "component" => Ok(KeyBy::Component),
            "identity+component" | "component+identity" => Ok(KeyBy::IdentityComponent),
            other => Err(UnknownKey(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, Filter, GovernorEventType};

    #[test]
    fn each_type_changes_the_node_as_the_tally_counts_it() {
        let event = |event_type: EventType| {
            let mut builder = Event::builder(event_type)
                .identity("n1")
                .component("server");
            builder = match event_type {
                EventType::Startup | EventType::Alive => builder.version("0.29.4"),
                EventType::Upgraded => builder.version("0.29.4").new_version("0.30.0"),
                EventType::Governor => builder
                    .governor("g")
                    .sequence(1)
                    .governor_event(GovernorEventType::Enter),
                _ => builder,
            };
            builder.build().unwrap()
        };
        let cases = [
            (EventType::Startup, NodeChange::Runs("0.29.4")),
            (EventType::Alive, NodeChange::Runs("0.29.4")),
            (EventType::Upgraded, NodeChange::Runs("0.30.0")),
            (EventType::Shutdown, NodeChange::Stopped),
            (EventType::Provisioned, NodeChange::Unchanged),
            (EventType::Governor, NodeChange::Unchanged),
        ];
        for (event_type, change) in cases {
            assert_eq!(event(event_type).node_change(), change, "{event_type:?}");
        }
    }

    #[test]
    fn a_node_state_is_an_alive_event_with_last_seen_and_state() {
        let node = Event::node_state(
            "web\u{1b}1",
            "server",
            "0.30.0",
            1_700_000_000,
            NodeState::Up,
        );
        assert_eq!(
            String::from_utf8(node.to_json()).unwrap(),
            r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"","identity":"web\u001b1","component":"server","timestamp":1700000000,"version":"0.30.0","last_seen":1700000000,"state":"up"}"#
        );
        let node = AnyEvent::from(node);
        for (expression, passes) in [
            ("alive,component=server,.version>=0.30.0", true),
            ("startup", false),
            (".last_seen>=1700000000,.state=up", true),
            (".last_seen<1700000000", false),
            (".state=lost", false),
            ("identity=web*", true),
        ] {
            assert_eq!(
                Filter::parse(expression).unwrap().matches(&node),
                passes,
                "{expression}"
            );
        }
    }

    #[test]
    fn states_read_and_write() {
        assert_eq!("up".parse(), Ok(NodeState::Up));
        assert_eq!("lost".parse(), Ok(NodeState::Lost));
        assert_eq!(
            "gone".parse::<NodeState>().unwrap_err().to_string(),
            "unknown node state 'gone' (expected up or lost)"
        );
        assert_eq!(serde_json::to_string(&NodeState::Lost).unwrap(), "\"lost\"");
        assert_eq!(
            serde_json::from_str::<NodeState>("\"up\"").unwrap(),
            NodeState::Up
        );
    }

    #[test]
    fn keys_of_an_event() {
        let event: AnyEvent = Event::builder(EventType::Startup)
            .identity("a.b")
            .component("c")
            .version("1")
            .build()
            .unwrap()
            .into();
        assert_eq!(KeyBy::Identity.of(&event), "a.b");
        assert_eq!(KeyBy::Component.of(&event), "c");
        assert_eq!(KeyBy::IdentityComponent.of(&event), "3:a.bc");
        for name in KeyBy::NAMES {
            assert_eq!(name.parse::<KeyBy>().unwrap().as_str(), name);
        }
        assert_eq!(
            "node".parse::<KeyBy>().unwrap_err().to_string(),
            "unknown key 'node' (expected identity, component or identity+component)"
        );
    }
}
