//! Which node runs which version of which component, and when it was last seen.
//!
//! Built for a million nodes: a node is a small fixed record in a slab, its identity the only
//! allocation; an index finds it by component and identity; and every node sits in one list
//! ordered by when it was last seen, so expiry walks only the nodes that expire. The count
//! per component and version changes only when a node's recorded version changes, so it is a
//! function of the state and cannot drift or go negative.
//!
//! Whoever can publish decides the names, so they are capped: at most so many components
//! (kept for good, as their counters are), at most so many versions running in one component
//! (a version no node runs any more is forgotten), and no name longer than
//! [`MAX_NAME_LEN`]. An event past a cap, or naming no node, is refused ([`Refusal`]).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use lifecycle_core::{Event, EventKind};

use crate::refusal::Refusal;

/// No node: the end of the last-seen list.
const NONE: u32 = u32::MAX;

/// The component of a free slot in the slab; no component has this number.
const FREE: u16 = u16::MAX;

/// Most components, and most versions of one component, a fleet can track: names are kept
/// as 16-bit numbers, one of which marks free slots.
pub const MAX_NAMES: usize = u16::MAX as usize;

/// Longest component or version name, in bytes. Real ones are a few dozen; each name is a
/// label of several series in every scrape.
pub const MAX_NAME_LEN: usize = 256;

/// Components a tally tracks by default: far more than any real fleet runs (Choria's own are
/// a handful), few enough that `/metrics` stays small.
pub const DEFAULT_MAX_COMPONENTS: usize = 1_000;

/// Versions one component may run at once by default: a fleet mid-upgrade runs two or three.
pub const DEFAULT_MAX_VERSIONS: usize = 1_000;

#[derive(Debug)]
struct Node {
    identity: Box<str>,
    /// [`FREE`] when the slot holds no node.
    component: u16,
    /// A version of its component (numbered per component).
    version: u16,
    /// The index's hash of (component, identity), kept so that growing the index never
    /// reads identities (a cache miss each, at a million nodes). It fits in the padding.
    hash: u32,
    last_seen: i64,
    /// Neighbours in the last-seen list: older and newer.
    older: u32,
    newer: u32,
}

type NameIndex = hashbrown::HashMap<Box<str>, u16, foldhash::fast::FixedState>;

/// The versions one component runs, as small numbers with their node counts. A version's
/// number is given back when its last node leaves it, so the versions tracked are those
/// running now, not every one ever seen.
#[derive(Debug, Default)]
struct Versions {
    /// By number; empty while the number is free.
    names: Vec<Box<str>>,
    /// Nodes by version number.
    counts: Vec<u64>,
    index: NameIndex,
    free: Vec<u16>,
}

impl Versions {
    fn find(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    /// Versions running (with at least one node).
    fn len(&self) -> usize {
        self.index.len()
    }

    /// Numbers `name`, new with no node; the caller has checked there is room.
    fn add(&mut self, name: &str) -> u16 {
        let id = match self.free.pop() {
            Some(id) => {
                self.names[usize::from(id)] = name.into();
                id
            }
            None => {
                self.names.push(name.into());
                self.counts.push(0);
                (self.names.len() - 1) as u16
            }
        };
        self.index.insert(name.into(), id);
        id
    }

    fn name(&self, id: u16) -> &str {
        &self.names[usize::from(id)]
    }

    fn count(&self, id: u16) -> u64 {
        self.counts[usize::from(id)]
    }

    fn gained(&mut self, id: u16) {
        self.counts[usize::from(id)] += 1;
    }

    /// One node fewer runs `id`; the last one gone, the version is forgotten.
    fn lost(&mut self, id: u16) {
        let count = &mut self.counts[usize::from(id)];
        *count -= 1;
        if *count == 0 {
            let name = std::mem::take(&mut self.names[usize::from(id)]);
            self.index.remove(&name);
            self.free.push(id);
        }
    }

    /// Versions with their node counts.
    fn counts(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names
            .iter()
            .zip(&self.counts)
            .filter(|&(_, &count)| count > 0)
            .map(|(name, &count)| (&**name, count))
    }
}

#[derive(Debug)]
struct Component {
    name: Box<str>,
    versions: Versions,
}

/// The index's 64-bit hash from a node's 32 bits: multiplied so that every bit the table
/// uses (low bits to place, high bits to tag) depends on all of them.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// What an event did to the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A node appeared.
    Added,
    /// A known node was seen again at the same version.
    Refreshed,
    /// A known node changed version.
    Moved {
        /// The version it had.
        from: String,
    },
    /// A node left (shutdown).
    Removed,
    /// The event does not change the fleet (provisioned, governor, a shutdown of an unknown
    /// node).
    Unchanged,
    /// The event was not counted, for this reason.
    Refused(Refusal),
}

/// A node as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView<'a> {
    /// Its identity.
    pub identity: &'a str,
    /// Its component.
    pub component: &'a str,
    /// The version it runs.
    pub version: &'a str,
    /// When it was last seen, unix seconds.
    pub last_seen: i64,
}

/// Which nodes a listing wants, with the names resolved to numbers once.
struct Selection {
    /// `None`: any component; `Some(None)`: a component never seen, so none.
    component: Option<Option<u16>>,
    /// Per component number, the number of the wanted version there; `None`: any version.
    versions: Option<Vec<Option<u16>>>,
}

impl Selection {
    fn new(fleet: &Fleet, component: Option<&str>, version: Option<&str>) -> Selection {
        Selection {
            component: component.map(|c| fleet.component_index.get(c).copied()),
            versions: version.map(|v| {
                fleet
                    .components
                    .iter()
                    .map(|c| c.versions.find(v))
                    .collect()
            }),
        }
    }

    fn wants(&self, node: &Node) -> bool {
        let component = self.component.is_none_or(|c| c == Some(node.component));
        let version = self.versions.as_ref().is_none_or(|versions| {
            versions.get(usize::from(node.component)).copied().flatten() == Some(node.version)
        });
        component && version
    }
}

/// The fleet: every known node of every component.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    components: Vec<Component>,
    component_index: NameIndex,
    max_components: usize,
    max_versions: usize,
    oldest: u32,
    newest: u32,
    len: usize,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

impl Fleet {
    /// An empty fleet with the default caps ([`DEFAULT_MAX_COMPONENTS`],
    /// [`DEFAULT_MAX_VERSIONS`]).
    pub fn new() -> Self {
        Fleet::with_caps(DEFAULT_MAX_COMPONENTS, DEFAULT_MAX_VERSIONS)
    }

    /// An empty fleet that tracks at most `max_components` components and `max_versions`
    /// versions running in each (both at most [`MAX_NAMES`]).
    pub fn with_caps(max_components: usize, max_versions: usize) -> Self {
        Fleet {
            nodes: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6c69_6665_6379_636c),
            components: Vec::new(),
            component_index: NameIndex::default(),
            max_components: max_components.min(MAX_NAMES),
            max_versions: max_versions.min(MAX_NAMES),
            oldest: NONE,
            newest: NONE,
            len: 0,
        }
    }

    /// How many nodes are known.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Applies a lifecycle event seen at `now` (unix seconds). A node's last-seen time is the
    /// event's own timestamp, so a replayed event counts from when it happened; a timestamp
    /// in the future or missing (0) counts as `now`.
    ///
    /// Every event must name its component and its node, and its component counts towards
    /// the cap whatever its type; an event that does not, or would pass a cap, is refused
    /// and changes nothing.
    pub fn observe(&mut self, event: &Event, now: i64) -> Change {
        let (component, identity) = (event.component(), event.identity());
        if component.is_empty() {
            return Change::Refused(Refusal::NoComponent);
        }
        if identity.is_empty() {
            return Change::Refused(Refusal::NoIdentity);
        }
        let component = match self.component_id(component) {
            Ok(component) => component,
            Err(refusal) => return Change::Refused(refusal),
        };
        let seen = match event.timestamp() {
            t if t <= 0 || t > now => now,
            t => t,
        };
        match event.kind() {
            EventKind::Alive { version } | EventKind::Startup { version } => {
                self.upsert(component, identity, version, seen)
            }
            EventKind::Upgraded { new_version, .. } => {
                self.upsert(component, identity, new_version, seen)
            }
            EventKind::Shutdown => match self.find(component, identity) {
                Some(node) => {
                    self.remove(node);
                    Change::Removed
                }
                None => Change::Unchanged,
            },
            EventKind::Provisioned | EventKind::Governor { .. } => Change::Unchanged,
        }
    }

    /// The number of component `name`, numbering it if it is new and there is room.
    fn component_id(&mut self, name: &str) -> Result<u16, Refusal> {
        if let Some(&id) = self.component_index.get(name) {
            return Ok(id);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(Refusal::NameTooLong);
        }
        if self.components.len() >= self.max_components {
            return Err(Refusal::TooManyComponents);
        }
        let id = self.components.len() as u16;
        self.components.push(Component {
            name: name.into(),
            versions: Versions::default(),
        });
        self.component_index.insert(name.into(), id);
        Ok(id)
    }

    fn hash(&self, component: u16, identity: &str) -> u32 {
        self.hasher.hash_one((component, identity)) as u32
    }

    fn find(&self, component: u16, identity: &str) -> Option<u32> {
        let hash = self.hash(component, identity);
        self.index
            .find(spread(hash), |&n| {
                let node = &self.nodes[n as usize];
                node.component == component && &*node.identity == identity
            })
            .copied()
    }

    fn upsert(&mut self, component: u16, identity: &str, version: &str, seen: i64) -> Change {
        let hash = self.hash(component, identity);
        let nodes = &self.nodes;
        let found = self
            .index
            .find(spread(hash), |&n| {
                let node = &nodes[n as usize];
                node.component == component && &*node.identity == identity
            })
            .copied();
        let versions = &mut self.components[usize::from(component)].versions;
        let version = match versions.find(version) {
            Some(id) => id,
            None => {
                if version.len() > MAX_NAME_LEN {
                    return Change::Refused(Refusal::NameTooLong);
                }
                // A node moving off the last node of its version leaves room for this one.
                let frees = found.is_some_and(|n| versions.count(nodes[n as usize].version) == 1);
                if versions.len() - usize::from(frees) >= self.max_versions {
                    return Change::Refused(Refusal::TooManyVersions);
                }
                versions.add(version)
            }
        };
        match found {
            Some(n) => {
                let node = &mut self.nodes[n as usize];
                let before = node.version;
                node.version = version;
                // A late event never makes a node look older than it is.
                let seen = seen.max(node.last_seen);
                self.unlink(n);
                self.nodes[n as usize].last_seen = seen;
                self.link_in_order(n);
                if before == version {
                    return Change::Refreshed;
                }
                let versions = &mut self.components[usize::from(component)].versions;
                let from = versions.name(before).to_owned();
                versions.lost(before);
                versions.gained(version);
                Change::Moved { from }
            }
            None => {
                let node = Node {
                    identity: identity.into(),
                    component,
                    version,
                    hash,
                    last_seen: seen,
                    older: NONE,
                    newer: NONE,
                };
                let n = match self.free.pop() {
                    Some(n) => {
                        self.nodes[n as usize] = node;
                        n
                    }
                    None => {
                        self.nodes.push(node);
                        (self.nodes.len() - 1) as u32
                    }
                };
                let nodes = &self.nodes;
                self.index
                    .insert_unique(spread(hash), n, |&m| spread(nodes[m as usize].hash));
                self.link_in_order(n);
                self.len += 1;
                self.components[usize::from(component)]
                    .versions
                    .gained(version);
                Change::Added
            }
        }
    }

    fn remove(&mut self, n: u32) {
        let (component, version, hash) = {
            let node = &self.nodes[n as usize];
            (node.component, node.version, node.hash)
        };
        if let Ok(entry) = self.index.find_entry(spread(hash), |&m| m == n) {
            entry.remove();
        }
        self.unlink(n);
        self.components[usize::from(component)]
            .versions
            .lost(version);
        let node = &mut self.nodes[n as usize];
        node.identity = Box::from("");
        node.component = FREE;
        self.free.push(n);
        self.len -= 1;
    }

    fn unlink(&mut self, n: u32) {
        let (older, newer) = {
            let node = &self.nodes[n as usize];
            (node.older, node.newer)
        };
        match older {
            NONE => self.oldest = newer,
            o => self.nodes[o as usize].newer = newer,
        }
        match newer {
            NONE => self.newest = older,
            w => self.nodes[w as usize].older = older,
        }
        let node = &mut self.nodes[n as usize];
        node.older = NONE;
        node.newer = NONE;
    }

    /// Links `n` into the last-seen list at its place, searching from the newest end: events
    /// arrive nearly in time order, so this is almost always the first step.
    fn link_in_order(&mut self, n: u32) {
        let seen = self.nodes[n as usize].last_seen;
        let mut after = self.newest;
        while after != NONE && self.nodes[after as usize].last_seen > seen {
            after = self.nodes[after as usize].older;
        }
        let before = match after {
            NONE => self.oldest,
            a => self.nodes[a as usize].newer,
        };
        self.nodes[n as usize].older = after;
        self.nodes[n as usize].newer = before;
        match after {
            NONE => self.oldest = n,
            a => self.nodes[a as usize].newer = n,
        }
        match before {
            NONE => self.newest = n,
            b => self.nodes[b as usize].older = n,
        }
    }

    /// Removes up to `limit` nodes last seen before `cutoff` (unix seconds), oldest first,
    /// calling `expired` with each one's component. Costs in proportion to what expires;
    /// returns whether more remain, so a caller can release its lock between batches.
    pub fn expire(&mut self, cutoff: i64, limit: usize, mut expired: impl FnMut(&str)) -> bool {
        for _ in 0..limit {
            let n = self.oldest;
            if n == NONE || self.nodes[n as usize].last_seen >= cutoff {
                return false;
            }
            let component = self.nodes[n as usize].component;
            expired(&self.components[usize::from(component)].name);
            self.remove(n);
        }
        self.oldest != NONE && self.nodes[self.oldest as usize].last_seen < cutoff
    }

    /// Per component: its name and the versions it runs with their node counts (none when
    /// its nodes have all gone), components in the order they were first seen.
    pub fn components(&self) -> impl Iterator<Item = (&str, Vec<(&str, u64)>)> {
        self.components
            .iter()
            .map(|c| (&*c.name, c.versions.counts().collect()))
    }

    /// The nodes of `component` (all when `None`) running `version` (any when `None`),
    /// the least recently seen first.
    pub fn nodes<'a>(
        &'a self,
        component: Option<&str>,
        version: Option<&str>,
    ) -> impl Iterator<Item = NodeView<'a>> + 'a {
        let selection = Selection::new(self, component, version);
        let mut n = self.oldest;
        std::iter::from_fn(move || {
            while n != NONE {
                let node = &self.nodes[n as usize];
                n = node.newer;
                if selection.wants(node) {
                    return Some(self.view(node));
                }
            }
            None
        })
    }

    fn view<'a>(&'a self, node: &'a Node) -> NodeView<'a> {
        let component = &self.components[usize::from(node.component)];
        NodeView {
            identity: &node.identity,
            component: &component.name,
            version: component.versions.name(node.version),
            last_seen: node.last_seen,
        }
    }

    /// Where a listing by position ends. Every node has a position, kept for as long as it
    /// is known, so a listing that walks positions in order, a few at a time, sees each node
    /// known throughout exactly once, however many come and go meanwhile.
    pub(crate) fn positions(&self) -> usize {
        self.nodes.len()
    }

    /// Walks positions `from..to` in order, calling `visit` with each wanted node (of
    /// `component`, running `version`) and its position until it returns false; returns the
    /// position after the last one looked at.
    pub(crate) fn walk(
        &self,
        from: usize,
        to: usize,
        component: Option<&str>,
        version: Option<&str>,
        mut visit: impl FnMut(NodeView<'_>) -> bool,
    ) -> usize {
        let selection = Selection::new(self, component, version);
        let to = to.min(self.nodes.len());
        for position in from..to {
            let node = &self.nodes[position];
            if node.component != FREE && selection.wants(node) && !visit(self.view(node)) {
                return position + 1;
            }
        }
        to.max(from)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lifecycle_core::{Event, EventType};

    use super::*;

    fn event(kind: EventType, identity: &str, component: &str, version: &str, at: i64) -> Event {
        Event::builder(kind)
            .identity(identity)
            .component(component)
            .version(version)
            .new_version(version)
            .timestamp(at)
            .build()
            .unwrap()
    }

    fn upgraded(identity: &str, from: &str, to: &str, at: i64) -> Event {
        Event::builder(EventType::Upgraded)
            .identity(identity)
            .component("server")
            .version(from)
            .new_version(to)
            .timestamp(at)
            .build()
            .unwrap()
    }

    /// The counts, recomputed from the nodes themselves.
    fn recount(fleet: &Fleet) -> BTreeMap<(String, String), u64> {
        let mut counts = BTreeMap::new();
        for node in fleet.nodes(None, None) {
            *counts
                .entry((node.component.to_owned(), node.version.to_owned()))
                .or_default() += 1;
        }
        counts
    }

    fn counts(fleet: &Fleet) -> BTreeMap<(String, String), u64> {
        fleet
            .components()
            .flat_map(|(c, versions)| {
                versions
                    .into_iter()
                    .map(move |(v, n)| ((c.to_owned(), v.to_owned()), n))
            })
            .collect()
    }

    #[test]
    fn a_scripted_fleet() {
        use EventType::*;
        let mut fleet = Fleet::new();
        let now = 10_000;
        assert_eq!(
            fleet.observe(&event(Startup, "a", "server", "1.0", 100), now),
            Change::Added
        );
        assert_eq!(
            fleet.observe(&event(Alive, "b", "server", "1.0", 110), now),
            Change::Added
        );
        assert_eq!(
            fleet.observe(&event(Alive, "c", "broker", "2.0", 120), now),
            Change::Added
        );
        assert_eq!(
            fleet.observe(&event(Alive, "a", "server", "1.0", 130), now),
            Change::Refreshed
        );
        assert_eq!(
            fleet.observe(&event(Alive, "b", "server", "1.1", 140), now),
            Change::Moved { from: "1.0".into() }
        );
        assert_eq!(
            fleet.observe(&upgraded("a", "1.0", "1.2", 150), now),
            Change::Moved { from: "1.0".into() }
        );
        assert_eq!(
            fleet.observe(&event(Provisioned, "d", "server", "", 150), now),
            Change::Unchanged
        );
        assert_eq!(
            fleet.observe(&event(Shutdown, "c", "broker", "", 160), now),
            Change::Removed
        );
        assert_eq!(
            fleet.observe(&event(Shutdown, "zz", "broker", "", 160), now),
            Change::Unchanged
        );
        assert_eq!(fleet.len(), 2);
        let want: BTreeMap<(String, String), u64> = [
            (("server".into(), "1.1".into()), 1),
            (("server".into(), "1.2".into()), 1),
        ]
        .into();
        assert_eq!(counts(&fleet), want);
        assert_eq!(recount(&fleet), want);
        let broker: Vec<_> = fleet.components().filter(|(c, _)| *c == "broker").collect();
        assert_eq!(broker, [("broker", vec![])]);

        let nodes: Vec<_> = fleet.nodes(Some("server"), Some("1.2")).collect();
        assert_eq!(
            nodes,
            [NodeView {
                identity: "a",
                component: "server",
                version: "1.2",
                last_seen: 150
            }]
        );
        assert_eq!(fleet.nodes(Some("nope"), None).count(), 0);
        assert_eq!(fleet.nodes(None, Some("9.9")).count(), 0);
    }

    #[test]
    fn expiry_takes_the_oldest_and_only_those() {
        let mut fleet = Fleet::new();
        // n0 ... n99, last seen at 1 ... 100 (0 would read as "no timestamp").
        for i in 0..100 {
            fleet.observe(
                &event(EventType::Alive, &format!("n{i}"), "server", "1", i + 1),
                1_000,
            );
        }
        // Out of order: an older event for a node placed by the newest end.
        fleet.observe(&event(EventType::Alive, "late", "server", "1", 5), 1_000);
        let mut expired = Vec::new();
        assert!(fleet.expire(10, 3, |c| expired.push(c.to_owned())));
        assert_eq!(expired, ["server"; 3]);
        assert!(!fleet.expire(10, 100, |_| {}));
        let left: Vec<&str> = fleet
            .nodes(None, None)
            .map(|n| n.identity)
            .take(2)
            .collect();
        assert_eq!(left, ["n9", "n10"]);
        assert_eq!(fleet.len(), 91);
        assert_eq!(recount(&fleet), counts(&fleet));
        // Seen again: no longer the oldest.
        fleet.observe(&event(EventType::Alive, "n9", "server", "1", 500), 1_000);
        assert_eq!(fleet.nodes(None, None).next().unwrap().identity, "n10");
        assert_eq!(fleet.nodes(None, None).last().unwrap().identity, "n9");
    }

    fn alive(identity: &str, component: &str, version: &str) -> Event {
        event(EventType::Alive, identity, component, version, 100)
    }

    /// An event as a publisher may send it: identity and component possibly empty, which
    /// the builder would not allow.
    fn unnamed(event_type: &str, identity: &str, component: &str) -> Event {
        let json = format!(
            r#"{{"protocol":"io.choria.lifecycle.v1.{event_type}","id":"00000000-0000-4000-8000-000000000000","identity":"{identity}","component":"{component}","timestamp":100,"version":"1"}}"#
        );
        let parsed = lifecycle_core::parse(json.as_bytes()).unwrap();
        parsed.event().as_lifecycle().unwrap().clone()
    }

    #[test]
    fn events_that_name_no_node_are_refused() {
        let mut fleet = Fleet::new();
        let cases = [
            (unnamed("alive", "", ""), Refusal::NoComponent),
            (unnamed("alive", "n1", ""), Refusal::NoComponent),
            (unnamed("alive", "", "server"), Refusal::NoIdentity),
            (unnamed("provisioned", "", "server"), Refusal::NoIdentity),
            (unnamed("shutdown", "n1", ""), Refusal::NoComponent),
        ];
        for (event, refusal) in cases {
            assert_eq!(
                fleet.observe(&event, 1_000),
                Change::Refused(refusal),
                "{event:?}"
            );
        }
        assert!(fleet.is_empty());
        assert_eq!(fleet.components().count(), 0);
    }

    #[test]
    fn components_past_the_cap_are_refused_whatever_the_event() {
        let mut fleet = Fleet::with_caps(2, 10);
        assert_eq!(fleet.observe(&alive("n1", "a", "1"), 1_000), Change::Added);
        // A governor or provisioned event makes its component known too: its counters exist.
        let governor = event(EventType::Provisioned, "n1", "b", "", 100);
        assert_eq!(fleet.observe(&governor, 1_000), Change::Unchanged);
        for event in [
            alive("n1", "c", "1"),
            event(EventType::Provisioned, "n1", "c", "", 100),
            event(EventType::Shutdown, "n1", "c", "", 100),
        ] {
            assert_eq!(
                fleet.observe(&event, 1_000),
                Change::Refused(Refusal::TooManyComponents)
            );
        }
        // Known components go on.
        assert_eq!(fleet.observe(&alive("n2", "b", "1"), 1_000), Change::Added);
        let components: Vec<&str> = fleet.components().map(|(c, _)| c).collect();
        assert_eq!(components, ["a", "b"]);
        assert_eq!(fleet.len(), 2);
    }

    #[test]
    fn versions_past_the_cap_are_refused_and_forgotten_when_no_node_runs_them() {
        let mut fleet = Fleet::with_caps(10, 2);
        assert_eq!(fleet.observe(&alive("n1", "s", "1"), 1_000), Change::Added);
        assert_eq!(fleet.observe(&alive("n2", "s", "2"), 1_000), Change::Added);
        assert_eq!(
            fleet.observe(&alive("n3", "s", "3"), 1_000),
            Change::Refused(Refusal::TooManyVersions)
        );
        // The cap is per component.
        assert_eq!(fleet.observe(&alive("n3", "t", "3"), 1_000), Change::Added);
        // n1 leaves version 1, its last node: room for version 3.
        assert_eq!(
            fleet.observe(&alive("n1", "s", "3"), 1_000),
            Change::Moved { from: "1".into() }
        );
        assert_eq!(
            fleet.observe(&alive("n4", "s", "1"), 1_000),
            Change::Refused(Refusal::TooManyVersions)
        );
        // A shutdown frees version 2.
        let shutdown = event(EventType::Shutdown, "n2", "s", "", 100);
        assert_eq!(fleet.observe(&shutdown, 1_000), Change::Removed);
        assert_eq!(fleet.observe(&alive("n4", "s", "1"), 1_000), Change::Added);
        let want: BTreeMap<(String, String), u64> = [
            (("s".into(), "1".into()), 1),
            (("s".into(), "3".into()), 1),
            (("t".into(), "3".into()), 1),
        ]
        .into();
        assert_eq!(counts(&fleet), want);
        assert_eq!(recount(&fleet), want);
    }

    #[test]
    fn names_too_long_are_refused() {
        let mut fleet = Fleet::new();
        let long = "x".repeat(MAX_NAME_LEN + 1);
        let fits = "x".repeat(MAX_NAME_LEN);
        assert_eq!(
            fleet.observe(&alive("n1", &long, "1"), 1_000),
            Change::Refused(Refusal::NameTooLong)
        );
        assert_eq!(
            fleet.observe(&alive("n1", "s", &long), 1_000),
            Change::Refused(Refusal::NameTooLong)
        );
        assert_eq!(
            fleet.observe(&alive("n1", &fits, &fits), 1_000),
            Change::Added
        );
    }

    /// Walking positions a few at a time while nodes come and go sees every node known
    /// throughout exactly once.
    #[test]
    fn a_walk_by_positions_sees_each_lasting_node_once() {
        let mut fleet = Fleet::new();
        for i in 0..1_000 {
            fleet.observe(&alive(&format!("stay{i}"), "s", "1"), 1_000);
            fleet.observe(&alive(&format!("churn{i}"), "s", "1"), 1_000);
        }
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let mut position = 0;
        let mut step = 0;
        while position < fleet.positions() {
            position = fleet.walk(position, position + 37, None, None, |node| {
                *seen.entry(node.identity.to_owned()).or_default() += 1;
                true
            });
            // Between steps: one churning node leaves, another arrives (reusing its slot).
            let leave = event(EventType::Shutdown, &format!("churn{step}"), "s", "", 100);
            fleet.observe(&leave, 1_000);
            fleet.observe(&alive(&format!("new{step}"), "s", "2"), 1_000);
            step += 1;
        }
        for i in 0..1_000 {
            assert_eq!(seen.get(&format!("stay{i}")), Some(&1), "stay{i}");
        }
        assert!(seen.values().all(|&n| n == 1), "{seen:?}");
        // Filters, and a visit that stops.
        let mut first = None;
        let stopped = fleet.walk(0, usize::MAX, Some("s"), Some("2"), |node| {
            first = Some(node.identity.to_owned());
            false
        });
        assert_eq!(first.as_deref(), Some("new0"));
        assert!(stopped > 0 && stopped <= fleet.positions());
        assert_eq!(
            fleet.walk(0, usize::MAX, Some("nope"), None, |_| true),
            fleet.positions()
        );
    }

    /// Whatever the events, the counts equal a recount of the nodes and the last-seen list
    /// stays in order.
    #[test]
    fn counts_never_drift() {
        let mut fleet = Fleet::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for step in 0..20_000i64 {
            let identity = format!("n{}", next(300));
            let component = ["server", "broker"][next(2) as usize];
            let version = format!("0.{}", next(5));
            let kind = [
                EventType::Alive,
                EventType::Startup,
                EventType::Shutdown,
                EventType::Upgraded,
            ][next(4) as usize];
            let at = step - next(50) as i64;
            fleet.observe(&event(kind, &identity, component, &version, at), step);
            if step % 1000 == 0 {
                fleet.expire(step - 2000, usize::MAX, |_| {});
            }
        }
        assert_eq!(recount(&fleet), counts(&fleet));
        let seen: Vec<i64> = fleet.nodes(None, None).map(|n| n.last_seen).collect();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(seen.len(), fleet.len());
    }
}
