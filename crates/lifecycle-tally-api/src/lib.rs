//! The wire types of the tally's HTTP API, shared by the tally that serves them and every
//! client that reads them (`lifecycle wait --tally`, `lifecycle nodes`, a library user's own
//! tools), so that the two cannot disagree.
//!
//! - `GET /api/v1/nodes?component=&version=&state=&filter=&limit=&cursor=`: a [`NodePage`]
//!   of [`Node`]s; pass its [`next_cursor`](NodePage::next_cursor) back as `cursor` for the
//!   next page.
//! - `GET /api/v1/components`: a list of [`ComponentCount`], the biggest component first.
//! - `GET /api/v1/status`: a [`Status`].
//!
//! ```
//! use lifecycle_tally_api::NodePage;
//!
//! let page: NodePage = serde_json::from_str(
//!     r#"{"nodes":[{"identity":"n1","component":"server","version":"0.29.4",
//!                  "last_seen":1700000000,"state":"up"}],"next_cursor":"1000"}"#,
//! )?;
//! assert_eq!(page.nodes[0].identity, "n1");
//! assert_eq!(page.next_cursor.map(|c| c.to_string()).as_deref(), Some("1000"));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use lifecycle_core::{AnyEvent, Event, NodeState};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The path of the node listing.
pub const NODES_PATH: &str = "api/v1/nodes";

/// Nodes in a page when the client does not say.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;

/// Most nodes in one page.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// A component on a node, and its latest state: one member of a [`NodePage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's identity.
    pub identity: String,
    /// The component.
    pub component: String,
    /// The version it runs (or, lost, ran when it was last seen; empty when no event said).
    pub version: String,
    /// When it was last seen, unix seconds.
    pub last_seen: i64,
    /// `up` or `lost` (a tally that lists no state lists nodes that are up).
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

/// A page of `/api/v1/nodes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodePage {
    /// The nodes: as many as asked for, fewer only on the last page.
    pub nodes: Vec<Node>,
    /// Where the next page starts; `None` (`null`) after the last one.
    pub next_cursor: Option<Cursor>,
}

/// Where a page of nodes starts: opaque to clients, who pass back the `next_cursor` of the
/// previous page. It is written as a short string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(u32);

impl Cursor {
    /// The cursor of the position `at` in the tally's listing.
    pub fn new(at: u32) -> Cursor {
        Cursor(at)
    }

    /// The position this cursor points at.
    pub fn position(self) -> u32 {
        self.0
    }
}

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

/// One component in `/api/v1/components`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentCount {
    /// The component.
    pub component: String,
    /// Its nodes.
    pub nodes: u64,
    /// Its nodes per version.
    pub versions: BTreeMap<String, u64>,
}

impl ComponentCount {
    /// Nodes up per version of each component, listed as `/api/v1/components` lists them
    /// ([`biggest_first`](Self::biggest_first)); a component with no version keeps its place
    /// with no nodes.
    pub fn list(
        per_component: impl IntoIterator<Item = (String, BTreeMap<String, u64>)>,
    ) -> Vec<ComponentCount> {
        let mut counts: Vec<ComponentCount> = per_component
            .into_iter()
            .map(|(component, versions)| ComponentCount {
                component,
                nodes: versions.values().sum(),
                versions,
            })
            .collect();
        counts.sort_by(ComponentCount::biggest_first);
        counts
    }

    /// The order components are listed in: the most nodes first, then by name. Whatever
    /// junk is published, the real fleet stays at the top.
    pub fn biggest_first(a: &ComponentCount, b: &ComponentCount) -> Ordering {
        b.nodes
            .cmp(&a.nodes)
            .then_with(|| a.component.cmp(&b.component))
    }
}

/// What `/api/v1/status` answers: the state of a tally, for the dashboard's header.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// Whether this tally leads (always, without an election).
    pub leader: bool,
    /// Whether it counts from a broker; false when fed in process.
    pub broker: bool,
    /// Whether it is connected to its broker.
    pub connected: bool,
    /// Whether it is ready: connected and caught up.
    pub ready: bool,
    /// `ready`, or why not (what `/readyz` answers).
    pub reason: String,
    /// Whether the counts are served: they have been current once.
    pub warm: bool,
    /// Events refused so far (`refused_total`, every reason).
    pub refused: u64,
    /// Nodes expired so far (`nodes_expired_total`).
    pub expired: u64,
    /// Nodes up now.
    pub up: u64,
    /// Nodes lost now, per component (those with none too), biggest first.
    pub lost: Vec<LostCount>,
    /// The tally's clock, unix seconds.
    pub now: i64,
}

/// Lost nodes of one component, in [`Status`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LostCount {
    /// The component.
    pub component: String,
    /// Its lost nodes.
    pub lost: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_node_without_a_state_is_up_and_a_page_round_trips() {
        let node: Node = serde_json::from_str(
            r#"{"identity":"n1","component":"server","version":"1","last_seen":5}"#,
        )
        .unwrap();
        assert_eq!(node.state, NodeState::Up);
        let page = NodePage {
            nodes: vec![node],
            next_cursor: Some(Cursor(7)),
        };
        let json = serde_json::to_string(&page).unwrap();
        assert_eq!(
            json,
            r#"{"nodes":[{"identity":"n1","component":"server","version":"1","last_seen":5,"state":"up"}],"next_cursor":"7"}"#
        );
        assert_eq!(serde_json::from_str::<NodePage>(&json).unwrap(), page);
        assert!(serde_json::from_str::<NodePage>(r#"{"nodes":[],"next_cursor":"-1"}"#).is_err());
    }
}
