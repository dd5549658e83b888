//! The nodes a page at a time: `/api/v1/nodes?filter=&state=&limit=&cursor=`.
//!
//! A million nodes in one answer is a hundred megabytes, built while holding the fleet: so
//! nodes come in pages, each copied out under a short lock, and a cursor says where the next
//! page starts. Pages follow the fleet's slab positions, which a node keeps for as long as it
//! is known, so a listing is right while nodes come and go meanwhile: a node known throughout
//! is listed exactly once, one that comes or goes during it may or may not be.

use lifecycle_core::{AnyEvent, Event, Filter};
use lifecycle_tally_api::{Cursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Node, NodePage};

use crate::fleet::{NodeView, StateSelection};
use crate::tally::Tally;

/// Positions looked at per lock of the fleet: a listing filtered down to a few nodes walks
/// the whole slab, and others get the lock between the steps.
const WALK_STEP: usize = 16_384;

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
        let mut position = query.cursor.map_or(0, |c| c.position() as usize);
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
                nodes.push(Node {
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
                    next_cursor: more.then_some(Cursor::new(position as u32)),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_core::NodeState;

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
}
