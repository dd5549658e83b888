//! Which node runs which version of which component, and when it was last seen.
//!
//! Built for a million nodes: a node is a small fixed record in a slab, its identity the only
//! allocation; an index finds it by component and identity; and every node sits in one list
//! ordered by when it was last seen, so expiry walks only the nodes that expire. The count
//! per component and version changes only when a node's recorded version changes, so it is a
//! function of the state and cannot drift or go negative.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use lifecycle_core::{Event, EventKind};

/// No node: the end of the last-seen list.
const NONE: u32 = u32::MAX;

/// Most distinct component or version names the tally tracks; more are refused, so a
/// stream of junk versions cannot grow memory without bound.
pub const MAX_NAMES: usize = u16::MAX as usize;

#[derive(Debug)]
struct Node {
    identity: Box<str>,
    component: u16,
    version: u16,
    /// The index's hash of (component, identity), kept so that growing the index never
    /// reads identities (a cache miss each, at a million nodes). It fits in the padding.
    hash: u32,
    last_seen: i64,
    /// Neighbours in the last-seen list: older and newer.
    older: u32,
    newer: u32,
}

/// Names (components, versions) as small numbers.
#[derive(Debug, Default)]
struct Names {
    names: Vec<Box<str>>,
    index: hashbrown::HashMap<Box<str>, u16, foldhash::fast::FixedState>,
}

impl Names {
    fn id(&mut self, name: &str) -> Option<u16> {
        if let Some(&id) = self.index.get(name) {
            return Some(id);
        }
        if self.names.len() >= MAX_NAMES {
            return None;
        }
        let id = self.names.len() as u16;
        self.names.push(name.into());
        self.index.insert(name.into(), id);
        Some(id)
    }

    fn find(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    fn name(&self, id: u16) -> &str {
        &self.names[usize::from(id)]
    }
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
    /// Refused: the tally already tracks [`MAX_NAMES`] components or versions.
    TooManyNames,
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

/// The fleet: every known node of every component.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    components: Names,
    versions: Names,
    /// Nodes per component and version: `counts[component][version]`.
    counts: Vec<Vec<u64>>,
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
    /// An empty fleet.
    pub fn new() -> Self {
        Fleet {
            nodes: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6c69_6665_6379_636c),
            components: Names::default(),
            versions: Names::default(),
            counts: Vec::new(),
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
    pub fn observe(&mut self, event: &Event, now: i64) -> Change {
        let seen = match event.timestamp() {
            t if t <= 0 || t > now => now,
            t => t,
        };
        let (component, identity) = (event.component(), event.identity());
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

    fn hash(&self, component: u16, identity: &str) -> u32 {
        self.hasher.hash_one((component, identity)) as u32
    }

    fn find(&self, component: &str, identity: &str) -> Option<u32> {
        let component = self.components.find(component)?;
        let hash = self.hash(component, identity);
        self.index
            .find(spread(hash), |&n| {
                let node = &self.nodes[n as usize];
                node.component == component && &*node.identity == identity
            })
            .copied()
    }

    fn upsert(&mut self, component: &str, identity: &str, version: &str, seen: i64) -> Change {
        let (Some(component), Some(version)) =
            (self.components.id(component), self.versions.id(version))
        else {
            return Change::TooManyNames;
        };
        let hash = self.hash(component, identity);
        let nodes = &self.nodes;
        let found = self
            .index
            .find(spread(hash), |&n| {
                let node = &nodes[n as usize];
                node.component == component && &*node.identity == identity
            })
            .copied();
        let change = match found {
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
                self.count(component, before, false);
                Change::Moved {
                    from: self.versions.name(before).to_owned(),
                }
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
                Change::Added
            }
        };
        self.count(component, version, true);
        change
    }

    fn count(&mut self, component: u16, version: u16, add: bool) {
        let (c, v) = (usize::from(component), usize::from(version));
        if self.counts.len() <= c {
            self.counts.resize_with(c + 1, Vec::new);
        }
        let versions = &mut self.counts[c];
        if versions.len() <= v {
            versions.resize(v + 1, 0);
        }
        if add {
            versions[v] += 1;
        } else {
            versions[v] -= 1;
        }
    }

    fn remove(&mut self, n: u32) {
        let (component, version) = {
            let node = &self.nodes[n as usize];
            (node.component, node.version)
        };
        let hash = self.nodes[n as usize].hash;
        if let Ok(entry) = self.index.find_entry(spread(hash), |&m| m == n) {
            entry.remove();
        }
        self.unlink(n);
        self.count(component, version, false);
        self.nodes[n as usize].identity = Box::from("");
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
            expired(self.components.name(self.nodes[n as usize].component));
            self.remove(n);
        }
        self.oldest != NONE && self.nodes[self.oldest as usize].last_seen < cutoff
    }

    /// Per component: its name and its versions with their node counts (versions with no
    /// node left out), in the order they were first seen.
    pub fn components(&self) -> impl Iterator<Item = (&str, Vec<(&str, u64)>)> {
        self.counts.iter().enumerate().map(|(c, versions)| {
            let versions = versions
                .iter()
                .enumerate()
                .filter(|&(_, &count)| count > 0)
                .map(|(v, &count)| (self.versions.name(v as u16), count))
                .collect();
            (self.components.name(c as u16), versions)
        })
    }

    /// The nodes of `component` (all when `None`) running `version` (any when `None`).
    pub fn nodes<'a>(
        &'a self,
        component: Option<&str>,
        version: Option<&str>,
    ) -> impl Iterator<Item = NodeView<'a>> + 'a {
        // A name never seen matches nothing; `Some(None)` says so.
        let component = component.map(|c| self.components.find(c));
        let version = version.map(|v| self.versions.find(v));
        let mut n = self.oldest;
        std::iter::from_fn(move || {
            while n != NONE {
                let node = &self.nodes[n as usize];
                n = node.newer;
                let wanted =
                    |filter: Option<Option<u16>>, id: u16| filter.is_none_or(|f| f == Some(id));
                if wanted(component, node.component) && wanted(version, node.version) {
                    return Some(NodeView {
                        identity: &node.identity,
                        component: self.components.name(node.component),
                        version: self.versions.name(node.version),
                        last_seen: node.last_seen,
                    });
                }
            }
            None
        })
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
