//! The nodes a page at a time: `/api/v1/nodes?filter=&state=&limit=&cursor=`.
//!
//! A million nodes in one answer is a hundred megabytes, built while holding the fleet: so
//! nodes come in pages, each copied out under a short lock, and a cursor says where the next
//! page starts. Pages follow the fleet's slab positions, which a node keeps for as long as it
//! is known, so a listing is right while nodes come and go meanwhile: a node known throughout
//! is listed exactly once, one that comes or goes during it may or may not be.

use std::fmt;
use std::str::FromStr;

use lifecycle_core::{AnyEvent, Event, Filter};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fleet::{NodeView, StateSelection};
use crate::tally::Tally;
use lifecycle_core::NodeState;

/// Nodes in a page when the client does not say.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;

/// Most nodes in one page.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// Positions looked at per lock of the fleet: a listing filtered down to a few nodes walks
/// the whole slab, and others get the lock between the steps.
const WALK_STEP: usize = 16_384;

/// Where a page of nodes starts: opaque to clients, who pass back the `next_cursor` of the
/// previous page. It is written as a short string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(u32);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A cursor that no page gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCursor(String);

impl fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(64).collect();
        write!(
            f,
            "invalid cursor {shown:?}: pass the next_cursor of the previous page"
        )
    }
}

impl std::error::Error for InvalidCursor {}

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(s: &str) -> Result<Cursor, InvalidCursor> {
        // Digits only: u32's parser would also take a sign.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidCursor(s.to_owned()));
        }
        s.parse()
            .map(Cursor)
            .map_err(|_| InvalidCursor(s.to_owned()))
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cursor, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One node in `/api/v1/nodes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its identity.
    pub identity: String,
    /// Its component.
    pub component: String,
    /// The version it runs (or, lost, ran when it was last seen).
    pub version: String,
    /// When it was last seen, unix seconds.
    pub last_seen: i64,
    /// `up` or `lost`.
    pub state: NodeState,
}

/// A page of `/api/v1/nodes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodePage {
    /// The nodes: as many as asked for, fewer only on the last page.
    pub nodes: Vec<NodeInfo>,
    /// Where the next page starts; `None` (`null`) after the last one.
    pub next_cursor: Option<Cursor>,
}

/// Which nodes to list, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeQuery {
    /// Only nodes of this component.
    pub component: Option<String>,
    /// Only nodes running this version.
    pub version: Option<String>,
    /// Only nodes in these states (default: up).
    pub state: StateSelection,
    /// Only nodes whose state passes this filter ([`node_event`]); the empty filter passes
    /// every node.
    pub filter: Filter,
    /// Where to start: `None` for the first page.
    pub cursor: Option<Cursor>,
    /// Most nodes in the page (1 to [`MAX_PAGE_SIZE`]; out of range is brought in).
    pub limit: usize,
}

/// A node's state as the filter language sees it: an alive event of its identity, component
/// and version stamped when it was last seen, with the members `last_seen` (unix seconds) and
/// `state` (`up` or `lost`). So `component=server,.version<0.30.0` and
/// `.last_seen<1700000000` select nodes as they select events.
pub fn node_event(node: &NodeView<'_>) -> AnyEvent {
    AnyEvent::Lifecycle(Event::node_state(
        &node.identity,
        node.component,
        node.version,
        node.last_seen,
        node.state,
    ))
}

impl Tally {
    /// A page of the nodes `query` asks for. The fleet is locked for a step of the walk at a
    /// time, never for the whole page.
    pub fn nodes_page(&self, query: &NodeQuery) -> NodePage {
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let (component, version) = (query.component.as_deref(), query.version.as_deref());
        let filter = (!query.filter.is_empty()).then_some(&query.filter);
        let mut nodes = Vec::with_capacity(limit.min(DEFAULT_PAGE_SIZE));
        let mut position = query.cursor.map_or(0, |c| c.0 as usize);
        loop {
            let fleet = self.fleet();
            let end = fleet.positions();
            if position >= end {
                return NodePage {
                    nodes,
                    next_cursor: None,
                };
            }
            let step = position + WALK_STEP;
            position = fleet.walk(position, step, component, version, query.state, |node| {
                if filter.is_some_and(|filter| !filter.matches(&node_event(&node))) {
                    return true;
                }
                nodes.push(NodeInfo {
                    identity: node.identity.into_owned(),
                    component: node.component.to_owned(),
                    version: node.version.to_owned(),
                    last_seen: node.last_seen,
                    state: node.state,
                });
                nodes.len() < limit
            });
            drop(fleet);
            if nodes.len() >= limit {
                // Positions past the slab's end hold nothing: say so now rather than with
                // an empty page.
                let more = position < end;
                return NodePage {
                    nodes,
                    next_cursor: more.then_some(Cursor(position as u32)),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_an_alive_event_with_its_state_to_the_filter() {
        // Names are taken as received, whatever they hold.
        let node = NodeView {
            identity: "web\u{1b}[31m1".into(),
            component: "server",
            version: "0.29.4",
            last_seen: 1_700_000_000,
            received: 1_700_000_000,
            state: NodeState::Lost,
        };
        let event = node_event(&node);
        assert_eq!(
            String::from_utf8(event.to_json()).unwrap(),
            r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"","identity":"web\u001b[31m1","component":"server","timestamp":1700000000,"version":"0.29.4","last_seen":1700000000,"state":"lost"}"#
        );
        for (filter, passes) in [
            ("identity=web*,component=server", true),
            ("alive,.version>=0.29.4", true),
            (".version<0.29.4", false),
            (".state=lost", true),
            (".state=up", false),
            (".last_seen>=1700000000", true),
            (".last_seen<1700000000", false),
            ("startup", false),
        ] {
            assert_eq!(
                Filter::parse(filter).unwrap().matches(&event),
                passes,
                "{filter}"
            );
        }
    }

    #[test]
    fn cursors_are_digits_that_fit() {
        assert_eq!("0".parse(), Ok(Cursor(0)));
        assert_eq!("4294967295".parse(), Ok(Cursor(u32::MAX)));
        for bad in ["", "+1", "-1", "1.5", "4294967296", "abc", " 1"] {
            let error = bad.parse::<Cursor>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid cursor {bad:?}: pass the next_cursor of the previous page")
            );
        }
        assert_eq!(Cursor(42).to_string(), "42");
    }
}
