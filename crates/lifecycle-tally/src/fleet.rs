//! Which node runs which version of which component, and when it was last seen.
//!
//! Built for a million nodes: a node is a small fixed record in a slab, its identity the only
//! allocation; an index finds it by component and identity; and every node sits in one of two
//! lists ordered by when it was last seen, the up nodes' and the lost nodes', so expiry walks
//! only the nodes that expire. The count per component and version changes only when a
//! node's recorded version or state changes, so it is a function of the state and cannot
//! drift or go negative.
//!
//! A node not seen for the tally's max age without having said it shut down is *lost*, not
//! forgotten: the seed is plain that shutdown events are lossy, and a node that vanished is
//! what an operator wants to find. Lost nodes are kept, with the version they last ran, for a
//! retention time and up to a cap ([`Fleet::with_max_lost`]), then forgotten; a lost node that
//! reports again is up again. A shutdown makes a node *gone*: forgotten at once.
//!
//! A version whose last node left is still shown, with no node, until [`Fleet::retire`] is
//! told that the time it left is long enough ago (Choria's tally keeps such a series at 0, so
//! an alert on `== 0` can fire and a graph falls to zero rather than end).
//!
//! Whoever can publish decides the names, so they are capped: at most so many components
//! (kept for good, as their counters are), at most so many versions tracked in one component
//! (a version counts while a node, up or lost, runs it and while it is shown with no node),
//! and no name longer than [`MAX_NAME_LEN`]. An event past a cap, or naming no node, is
//! refused ([`Refusal`]).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use lifecycle_core::{Event, EventKind};
pub use lifecycle_core::{InvalidStateSelection, NodeState, StateSelection};

use crate::refusal::Refusal;

/// No node: the end of a last-seen list.
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

/// Lost nodes kept by default: a whole data centre of a large fleet going dark at once,
/// about 10 MB. Past it the nodes lost longest ago are forgotten first.
pub const DEFAULT_MAX_LOST: usize = 100_000;

#[derive(Debug)]
struct Node {
    identity: Box<str>,
    /// [`FREE`] when the slot holds no node.
    component: u16,
    /// A version of its component (numbered per component): the one it runs, or ran when it
    /// was last seen.
    version: u16,
    /// The index's hash of (component, identity), kept so that growing the index never
    /// reads identities (a cache miss each, at a million nodes). It fits in the padding.
    hash: u32,
    last_seen: i64,
    /// Neighbours in its last-seen list: older and newer.
    older: u32,
    newer: u32,
}

type NameIndex = hashbrown::HashMap<Box<str>, u16, foldhash::fast::FixedState>;

/// The versions one component tracks, as small numbers with their node counts. A version's
/// number is given back once no node, up or lost, runs it and it is no longer shown, so the
/// versions tracked are those in use and those recently left, not every one ever seen.
#[derive(Debug, Default)]
struct Versions {
    /// By number; empty while the number is free.
    names: Vec<Box<str>>,
    /// Up nodes by version number.
    up: Vec<u64>,
    /// Lost nodes by version number: a lost node keeps the name of the version it ran.
    lost: Vec<u64>,
    /// For a version no node is up on that is still shown (reading 0): when its last node
    /// left. `None` while nodes are up on it, and once it is no longer shown.
    emptied: Vec<Option<i64>>,
    index: NameIndex,
    free: Vec<u16>,
}

impl Versions {
    fn find(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    /// Versions tracked: run by a node, up or lost, or shown with none.
    fn len(&self) -> usize {
        self.index.len()
    }

    /// Numbers `name`, new with no node; the caller has checked there is room and adds a
    /// node at once.
    fn add(&mut self, name: &str) -> u16 {
        let id = match self.free.pop() {
            Some(id) => {
                self.names[usize::from(id)] = name.into();
                id
            }
            None => {
                self.names.push(name.into());
                self.up.push(0);
                self.lost.push(0);
                self.emptied.push(None);
                (self.names.len() - 1) as u16
            }
        };
        self.index.insert(name.into(), id);
        id
    }

    fn name(&self, id: u16) -> &str {
        &self.names[usize::from(id)]
    }

    /// One more node is up on `id`.
    fn gained(&mut self, id: u16) {
        self.up[usize::from(id)] += 1;
        self.emptied[usize::from(id)] = None;
    }

    /// One node fewer is up on `id`, at `now`: the last one gone, it reads 0 from then.
    fn left(&mut self, id: u16, now: i64) {
        let up = &mut self.up[usize::from(id)];
        *up -= 1;
        if *up == 0 {
            self.emptied[usize::from(id)] = Some(now);
        }
    }

    /// A node up on `id` is lost, at `now`.
    fn went_lost(&mut self, id: u16, now: i64) {
        self.left(id, now);
        self.lost[usize::from(id)] += 1;
    }

    /// A lost node that ran `id` is up again or forgotten.
    fn released(&mut self, id: u16) {
        self.lost[usize::from(id)] -= 1;
        self.settle(id);
    }

    /// Forgets `id` when nothing holds it any more.
    fn settle(&mut self, id: u16) {
        let i = usize::from(id);
        if self.up[i] == 0 && self.lost[i] == 0 && self.emptied[i].is_none() {
            let name = std::mem::take(&mut self.names[i]);
            self.index.remove(&name);
            self.free.push(id);
        }
    }

    /// Stops showing the versions whose last node left before `cutoff`, forgetting those no
    /// lost node ran either.
    fn retire(&mut self, cutoff: i64) {
        for id in 0..self.names.len() {
            if self.emptied[id].is_some_and(|left| left < cutoff) {
                self.emptied[id] = None;
                self.settle(id as u16);
            }
        }
    }

    /// Versions with nodes up, with their counts.
    fn running(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names
            .iter()
            .zip(&self.up)
            .filter(|&(_, &up)| up > 0)
            .map(|(name, &up)| (&**name, up))
    }

    /// Versions shown: with nodes up, or left recently (with 0).
    fn shown(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names
            .iter()
            .zip(&self.up)
            .zip(&self.emptied)
            .filter(|&((_, &up), emptied)| up > 0 || emptied.is_some())
            .map(|((name, &up), _)| (&**name, up))
    }
}

#[derive(Debug)]
struct Component {
    name: Box<str>,
    versions: Versions,
    /// Its lost nodes.
    lost: u64,
}

/// One of the two last-seen lists: its ends.
#[derive(Debug, Clone, Copy)]
struct List {
    oldest: u32,
    newest: u32,
}

impl List {
    const EMPTY: List = List {
        oldest: NONE,
        newest: NONE,
    };
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
    /// A lost node reported again: it is up.
    Returned,
    /// A node left (shutdown): it is gone.
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
    /// The version it runs (or, lost, ran).
    pub version: &'a str,
    /// When it was last seen, unix seconds.
    pub last_seen: i64,
    /// Up or lost.
    pub state: NodeState,
}

/// Which nodes a listing wants, with the names resolved to numbers once.
struct Selection {
    /// `None`: any component; `Some(None)`: a component never seen, so none.
    component: Option<Option<u16>>,
    /// Per component number, the number of the wanted version there; `None`: any version.
    versions: Option<Vec<Option<u16>>>,
    states: StateSelection,
}

impl Selection {
    fn new(
        fleet: &Fleet,
        component: Option<&str>,
        version: Option<&str>,
        states: StateSelection,
    ) -> Selection {
        Selection {
            component: component.map(|c| fleet.component_index.get(c).copied()),
            versions: version.map(|v| {
                fleet
                    .components
                    .iter()
                    .map(|c| c.versions.find(v))
                    .collect()
            }),
            states,
        }
    }

    fn wants(&self, node: &Node, state: NodeState) -> bool {
        let component = self.component.is_none_or(|c| c == Some(node.component));
        let version = self.versions.as_ref().is_none_or(|versions| {
            versions.get(usize::from(node.component)).copied().flatten() == Some(node.version)
        });
        component && version && self.states.wants(state)
    }
}

/// The fleet: every known node of every component.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<Node>,
    /// One bit per slot: set while its node is lost. Beside the slab rather than in it, so a
    /// node stays 40 bytes.
    lost_bits: Vec<u64>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    components: Vec<Component>,
    component_index: NameIndex,
    max_components: usize,
    max_versions: usize,
    max_lost: usize,
    up_list: List,
    lost_list: List,
    up: usize,
    lost: usize,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

impl Fleet {
    /// An empty fleet with the default caps ([`DEFAULT_MAX_COMPONENTS`],
    /// [`DEFAULT_MAX_VERSIONS`], [`DEFAULT_MAX_LOST`]).
    pub fn new() -> Self {
        Fleet::with_caps(DEFAULT_MAX_COMPONENTS, DEFAULT_MAX_VERSIONS)
    }

    /// An empty fleet that tracks at most `max_components` components and `max_versions`
    /// versions in each (both at most [`MAX_NAMES`]), and [`DEFAULT_MAX_LOST`] lost nodes.
    pub fn with_caps(max_components: usize, max_versions: usize) -> Self {
        Fleet {
            nodes: Vec::new(),
            lost_bits: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6c69_6665_6379_636c),
            components: Vec::new(),
            component_index: NameIndex::default(),
            max_components: max_components.min(MAX_NAMES),
            max_versions: max_versions.min(MAX_NAMES),
            max_lost: DEFAULT_MAX_LOST,
            up_list: List::EMPTY,
            lost_list: List::EMPTY,
            up: 0,
            lost: 0,
        }
    }

    /// Keeps at most `max_lost` lost nodes (0: none, a node not seen for the max age is
    /// forgotten); past it, those lost longest ago are forgotten first.
    pub fn with_max_lost(mut self, max_lost: usize) -> Self {
        self.max_lost = max_lost;
        self
    }

    /// How many nodes are up.
    pub fn len(&self) -> usize {
        self.up
    }

    /// Whether no node is up.
    pub fn is_empty(&self) -> bool {
        self.up == 0
    }

    /// How many nodes are lost.
    pub fn lost_len(&self) -> usize {
        self.lost
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
                self.upsert(component, identity, version, seen, now)
            }
            EventKind::Upgraded { new_version, .. } => {
                self.upsert(component, identity, new_version, seen, now)
            }
            EventKind::Shutdown => match self.find(component, identity) {
                Some(node) => {
                    self.drop_node(node, now);
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
            lost: 0,
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

    fn is_lost(&self, n: u32) -> bool {
        let n = n as usize;
        self.lost_bits
            .get(n / 64)
            .is_some_and(|word| word >> (n % 64) & 1 == 1)
    }

    fn set_lost_bit(&mut self, n: u32, lost: bool) {
        let n = n as usize;
        if n / 64 >= self.lost_bits.len() {
            self.lost_bits.resize(n / 64 + 1, 0);
        }
        let bit = 1u64 << (n % 64);
        if lost {
            self.lost_bits[n / 64] |= bit;
        } else {
            self.lost_bits[n / 64] &= !bit;
        }
    }

    fn state(&self, n: u32) -> NodeState {
        if self.is_lost(n) {
            NodeState::Lost
        } else {
            NodeState::Up
        }
    }

    fn upsert(
        &mut self,
        component: u16,
        identity: &str,
        version: &str,
        seen: i64,
        now: i64,
    ) -> Change {
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
                if versions.len() >= self.max_versions {
                    return Change::Refused(Refusal::TooManyVersions);
                }
                versions.add(version)
            }
        };
        let Some(n) = found else {
            return self.insert(component, identity, version, hash, seen);
        };
        let lost = self.is_lost(n);
        let node = &mut self.nodes[n as usize];
        let before = node.version;
        node.version = version;
        // A late event never makes a node look older than it is.
        let seen = seen.max(node.last_seen);
        self.unlink(n);
        self.nodes[n as usize].last_seen = seen;
        if lost {
            self.set_lost_bit(n, false);
            self.lost -= 1;
            self.up += 1;
        }
        self.link_in_order(n);
        let component = &mut self.components[usize::from(component)];
        if lost {
            component.lost -= 1;
            component.versions.gained(version);
            component.versions.released(before);
            return Change::Returned;
        }
        if before == version {
            return Change::Refreshed;
        }
        let from = component.versions.name(before).to_owned();
        component.versions.left(before, now);
        component.versions.gained(version);
        Change::Moved { from }
    }

    fn insert(
        &mut self,
        component: u16,
        identity: &str,
        version: u16,
        hash: u32,
        seen: i64,
    ) -> Change {
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
        self.up += 1;
        self.components[usize::from(component)]
            .versions
            .gained(version);
        Change::Added
    }

    /// Forgets node `n`, up or lost, at `now`.
    fn drop_node(&mut self, n: u32, now: i64) {
        let (component, version) = {
            let node = &self.nodes[n as usize];
            (usize::from(node.component), node.version)
        };
        let lost = self.is_lost(n);
        self.unlink(n);
        self.free_slot(n);
        let component = &mut self.components[component];
        if lost {
            self.lost -= 1;
            component.lost -= 1;
            component.versions.released(version);
        } else {
            self.up -= 1;
            component.versions.left(version, now);
        }
    }

    /// Empties the slot of node `n`, already unlinked, and drops it from the index.
    fn free_slot(&mut self, n: u32) {
        let hash = self.nodes[n as usize].hash;
        if let Ok(entry) = self.index.find_entry(spread(hash), |&m| m == n) {
            entry.remove();
        }
        self.set_lost_bit(n, false);
        let node = &mut self.nodes[n as usize];
        node.identity = Box::from("");
        node.component = FREE;
        self.free.push(n);
    }

    fn list(&self, lost: bool) -> List {
        if lost { self.lost_list } else { self.up_list }
    }

    fn set_list(&mut self, lost: bool, list: List) {
        if lost {
            self.lost_list = list;
        } else {
            self.up_list = list;
        }
    }

    /// Takes `n` out of its last-seen list.
    fn unlink(&mut self, n: u32) {
        let lost = self.is_lost(n);
        let mut list = self.list(lost);
        let (older, newer) = {
            let node = &self.nodes[n as usize];
            (node.older, node.newer)
        };
        match older {
            NONE => list.oldest = newer,
            o => self.nodes[o as usize].newer = newer,
        }
        match newer {
            NONE => list.newest = older,
            w => self.nodes[w as usize].older = older,
        }
        self.set_list(lost, list);
        let node = &mut self.nodes[n as usize];
        node.older = NONE;
        node.newer = NONE;
    }

    /// Links `n` into the last-seen list of its state at its place, searching from the
    /// newest end: events arrive nearly in time order, and nodes are lost in it, so this is
    /// almost always the first step.
    fn link_in_order(&mut self, n: u32) {
        let lost = self.is_lost(n);
        let mut list = self.list(lost);
        let seen = self.nodes[n as usize].last_seen;
        let mut after = list.newest;
        while after != NONE && self.nodes[after as usize].last_seen > seen {
            after = self.nodes[after as usize].older;
        }
        let before = match after {
            NONE => list.oldest,
            a => self.nodes[a as usize].newer,
        };
        self.nodes[n as usize].older = after;
        self.nodes[n as usize].newer = before;
        match after {
            NONE => list.oldest = n,
            a => self.nodes[a as usize].newer = n,
        }
        match before {
            NONE => list.newest = n,
            b => self.nodes[b as usize].older = n,
        }
        self.set_list(lost, list);
    }

    /// Marks up to `limit` up nodes last seen before `cutoff` (unix seconds) lost at `now`,
    /// oldest first, calling `expired` with each one's component; past the cap of lost
    /// nodes, those lost longest ago are forgotten. Costs in proportion to what expires;
    /// returns whether more remain, so a caller can release its lock between batches.
    pub fn expire(
        &mut self,
        cutoff: i64,
        now: i64,
        limit: usize,
        mut expired: impl FnMut(&str),
    ) -> bool {
        for _ in 0..limit {
            let n = self.up_list.oldest;
            if n == NONE || self.nodes[n as usize].last_seen >= cutoff {
                return false;
            }
            let (component, version) = {
                let node = &self.nodes[n as usize];
                (usize::from(node.component), node.version)
            };
            expired(&self.components[component].name);
            if self.max_lost == 0 {
                self.drop_node(n, now);
                continue;
            }
            self.unlink(n);
            self.set_lost_bit(n, true);
            self.link_in_order(n);
            self.up -= 1;
            self.lost += 1;
            let component = &mut self.components[component];
            component.lost += 1;
            component.versions.went_lost(version, now);
            if self.lost > self.max_lost {
                self.drop_node(self.lost_list.oldest, now);
            }
        }
        self.up_list.oldest != NONE && self.nodes[self.up_list.oldest as usize].last_seen < cutoff
    }

    /// Forgets up to `limit` lost nodes last seen before `cutoff`, oldest first; returns
    /// whether more remain.
    pub fn forget_lost(&mut self, cutoff: i64, limit: usize) -> bool {
        for _ in 0..limit {
            let n = self.lost_list.oldest;
            if n == NONE || self.nodes[n as usize].last_seen >= cutoff {
                return false;
            }
            // A lost node is no longer counted in its version: `now` is not used.
            self.drop_node(n, i64::MIN);
        }
        self.lost_list.oldest != NONE
            && self.nodes[self.lost_list.oldest as usize].last_seen < cutoff
    }

    /// Stops showing the versions whose last node left before `cutoff`: a walk of the
    /// versions, never of the nodes.
    pub fn retire(&mut self, cutoff: i64) {
        for component in &mut self.components {
            component.versions.retire(cutoff);
        }
    }

    /// Per component: its name and the versions nodes are up on with their counts (none
    /// when its nodes have all gone), components in the order they were first seen.
    pub fn components(&self) -> impl Iterator<Item = (&str, Vec<(&str, u64)>)> {
        self.components
            .iter()
            .map(|c| (&*c.name, c.versions.running().collect()))
    }

    /// Per component: the versions the versions gauge shows, those nodes are up on and
    /// those whose last node left recently, with 0.
    pub fn shown_versions(&self) -> impl Iterator<Item = (&str, Vec<(&str, u64)>)> {
        self.components
            .iter()
            .map(|c| (&*c.name, c.versions.shown().collect()))
    }

    /// Per component: its lost nodes.
    pub fn lost_per_component(&self) -> impl Iterator<Item = (&str, u64)> {
        self.components.iter().map(|c| (&*c.name, c.lost))
    }

    /// The up nodes of `component` (all when `None`) running `version` (any when `None`),
    /// the least recently seen first.
    pub fn nodes<'a>(
        &'a self,
        component: Option<&str>,
        version: Option<&str>,
    ) -> impl Iterator<Item = NodeView<'a>> + 'a {
        self.in_list(self.up_list, component, version)
    }

    /// The lost nodes of `component` (all when `None`) that ran `version` (any when `None`),
    /// the least recently seen first.
    pub fn lost_nodes<'a>(
        &'a self,
        component: Option<&str>,
        version: Option<&str>,
    ) -> impl Iterator<Item = NodeView<'a>> + 'a {
        self.in_list(self.lost_list, component, version)
    }

    fn in_list<'a>(
        &'a self,
        list: List,
        component: Option<&str>,
        version: Option<&str>,
    ) -> impl Iterator<Item = NodeView<'a>> + 'a {
        let selection = Selection::new(self, component, version, StateSelection::All);
        let mut n = list.oldest;
        std::iter::from_fn(move || {
            while n != NONE {
                let at = n;
                let node = &self.nodes[at as usize];
                n = node.newer;
                if selection.wants(node, NodeState::Up) {
                    return Some(self.view(at));
                }
            }
            None
        })
    }

    fn view(&self, n: u32) -> NodeView<'_> {
        let node = &self.nodes[n as usize];
        let component = &self.components[usize::from(node.component)];
        NodeView {
            identity: &node.identity,
            component: &component.name,
            version: component.versions.name(node.version),
            last_seen: node.last_seen,
            state: self.state(n),
        }
    }

    /// Where a listing by position ends. Every node has a position, kept for as long as it
    /// is known (up or lost), so a listing that walks positions in order, a few at a time,
    /// sees each node known throughout exactly once, however many come and go meanwhile.
    pub(crate) fn positions(&self) -> usize {
        self.nodes.len()
    }

    /// Walks positions `from..to` in order, calling `visit` with each wanted node (of
    /// `component`, running `version`, in one of `states`) until it returns false; returns
    /// the position after the last one looked at.
    pub(crate) fn walk(
        &self,
        from: usize,
        to: usize,
        component: Option<&str>,
        version: Option<&str>,
        states: StateSelection,
        mut visit: impl FnMut(NodeView<'_>) -> bool,
    ) -> usize {
        let selection = Selection::new(self, component, version, states);
        let to = to.min(self.nodes.len());
        for position in from..to {
            let node = &self.nodes[position];
            if node.component == FREE {
                continue;
            }
            let n = position as u32;
            if selection.wants(node, self.state(n)) && !visit(self.view(n)) {
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
                last_seen: 150,
                state: NodeState::Up,
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
        assert!(fleet.expire(10, 1_000, 3, |c| expired.push(c.to_owned())));
        assert_eq!(expired, ["server"; 3]);
        assert!(!fleet.expire(10, 1_000, 100, |_| {}));
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
    fn versions_past_the_cap_are_refused_and_forgotten_once_retired() {
        let mut fleet = Fleet::with_caps(10, 2);
        assert_eq!(fleet.observe(&alive("n1", "s", "1"), 1_000), Change::Added);
        assert_eq!(fleet.observe(&alive("n2", "s", "2"), 1_000), Change::Added);
        assert_eq!(
            fleet.observe(&alive("n3", "s", "3"), 1_000),
            Change::Refused(Refusal::TooManyVersions)
        );
        // The cap is per component.
        assert_eq!(fleet.observe(&alive("n3", "t", "3"), 1_000), Change::Added);
        // n1 moves to version 2: version 1 has no node but is still shown, and tracked.
        assert_eq!(
            fleet.observe(&alive("n1", "s", "2"), 1_100),
            Change::Moved { from: "1".into() }
        );
        assert_eq!(
            fleet.observe(&alive("n4", "s", "3"), 1_100),
            Change::Refused(Refusal::TooManyVersions)
        );
        assert_eq!(shown(&fleet, "s"), [("1", 0), ("2", 2)]);
        // Left at 1,100: still shown with a cutoff at 1,100, gone with one after it.
        fleet.retire(1_100);
        assert_eq!(shown(&fleet, "s"), [("1", 0), ("2", 2)]);
        fleet.retire(1_101);
        assert_eq!(shown(&fleet, "s"), [("2", 2)]);
        assert_eq!(fleet.observe(&alive("n4", "s", "3"), 1_200), Change::Added);
        // A shutdown empties version 2 of one node; the other keeps it.
        let shutdown = event(EventType::Shutdown, "n2", "s", "", 1_200);
        assert_eq!(fleet.observe(&shutdown, 1_200), Change::Removed);
        let want: BTreeMap<(String, String), u64> = [
            (("s".into(), "2".into()), 1),
            (("s".into(), "3".into()), 1),
            (("t".into(), "3".into()), 1),
        ]
        .into();
        assert_eq!(counts(&fleet), want);
        assert_eq!(recount(&fleet), want);
    }

    /// The versions gauge of `component`: shown versions with their up nodes.
    fn shown<'a>(fleet: &'a Fleet, component: &str) -> Vec<(&'a str, u64)> {
        let mut versions = fleet
            .shown_versions()
            .find(|(c, _)| *c == component)
            .map(|(_, v)| v)
            .unwrap_or_default();
        versions.sort_unstable();
        versions
    }

    fn alive_at(identity: &str, component: &str, version: &str, at: i64) -> Event {
        event(EventType::Alive, identity, component, version, at)
    }

    fn lost(fleet: &Fleet) -> Vec<(&str, u64)> {
        fleet.lost_per_component().collect()
    }

    #[test]
    fn a_version_whose_last_node_left_reads_zero_until_retired() {
        let mut fleet = Fleet::new();
        fleet.observe(&alive_at("n1", "s", "1", 1_000), 1_000);
        fleet.observe(&alive_at("n2", "s", "1", 1_000), 1_000);
        fleet.observe(&alive_at("n1", "s", "2", 1_010), 1_010);
        assert_eq!(shown(&fleet, "s"), [("1", 1), ("2", 1)]);
        // The last node leaves by shutdown at 1,020, by expiry, or by moving: each reads 0.
        fleet.observe(&event(EventType::Shutdown, "n2", "s", "", 1_020), 1_020);
        assert_eq!(shown(&fleet, "s"), [("1", 0), ("2", 1)]);
        assert_eq!(fleet.components().next().unwrap().1, [("2", 1)]);
        // Back before it is retired: counted again, and no longer due to go.
        fleet.observe(&alive_at("n3", "s", "1", 1_030), 1_030);
        fleet.retire(5_000);
        assert_eq!(shown(&fleet, "s"), [("1", 1), ("2", 1)]);
        // Expired (lost) at 2,000: 0 from then, retired with a cutoff after 2,000.
        assert!(!fleet.expire(1_500, 2_000, usize::MAX, |_| {}));
        assert_eq!(shown(&fleet, "s"), [("1", 0), ("2", 0)]);
        fleet.retire(2_000);
        assert_eq!(shown(&fleet, "s"), [("1", 0), ("2", 0)]);
        fleet.retire(2_001);
        assert_eq!(shown(&fleet, "s"), []);
        // The lost nodes keep the names of their versions, though no longer shown.
        let mut lost: Vec<(&str, &str)> = fleet
            .lost_nodes(None, None)
            .map(|n| (n.identity, n.version))
            .collect();
        lost.sort_unstable();
        assert_eq!(lost, [("n1", "2"), ("n3", "1")]);
    }

    #[test]
    fn expired_nodes_are_lost_then_forgotten_and_up_again_when_they_report() {
        let mut fleet = Fleet::new();
        for i in 0..5 {
            fleet.observe(&alive_at(&format!("n{i}"), "s", "1", 1_000), 1_000);
        }
        fleet.observe(&alive_at("b1", "b", "7", 1_000), 1_000);
        fleet.observe(&alive_at("n4", "s", "1", 1_500), 1_500);
        let mut expired = Vec::new();
        assert!(!fleet.expire(1_200, 2_000, usize::MAX, |c| expired.push(c.to_owned())));
        assert_eq!(expired, ["s", "s", "s", "s", "b"]);
        assert_eq!((fleet.len(), fleet.lost_len()), (1, 5));
        assert_eq!(lost(&fleet), [("s", 4), ("b", 1)]);
        let lost_nodes: Vec<NodeView<'_>> = fleet.lost_nodes(Some("b"), None).collect();
        assert_eq!(
            lost_nodes,
            [NodeView {
                identity: "b1",
                component: "b",
                version: "7",
                last_seen: 1_000,
                state: NodeState::Lost,
            }]
        );
        // A lost node that reports again is up, at the version it reports.
        assert_eq!(
            fleet.observe(&alive_at("n0", "s", "2", 2_100), 2_100),
            Change::Returned
        );
        assert_eq!(lost(&fleet), [("s", 3), ("b", 1)]);
        assert_eq!(shown(&fleet, "s"), [("1", 1), ("2", 1)]);
        // A shutdown of a lost node makes it gone, not lost.
        let shutdown = event(EventType::Shutdown, "n1", "s", "", 2_100);
        assert_eq!(fleet.observe(&shutdown, 2_100), Change::Removed);
        assert_eq!(lost(&fleet), [("s", 2), ("b", 1)]);
        // Past the lost retention: forgotten, and a report then makes a new node.
        assert!(!fleet.forget_lost(1_001, usize::MAX));
        assert_eq!((fleet.len(), fleet.lost_len()), (2, 0));
        assert_eq!(lost(&fleet), [("s", 0), ("b", 0)]);
        assert_eq!(
            fleet.observe(&alive_at("n2", "s", "1", 2_200), 2_200),
            Change::Added
        );
        // Version 7 of b: no node up (shown at 0 until retired), none lost.
        assert_eq!(shown(&fleet, "b"), [("7", 0)]);
        fleet.retire(3_000);
        assert_eq!(shown(&fleet, "b"), []);
        assert_eq!(recount(&fleet), counts(&fleet));
    }

    #[test]
    fn lost_nodes_are_capped_forgetting_those_lost_longest_ago() {
        let mut fleet = Fleet::new().with_max_lost(3);
        for i in 0..10 {
            fleet.observe(&alive_at(&format!("n{i}"), "s", "1", 1_000 + i), 1_100);
        }
        assert!(!fleet.expire(2_000, 2_000, usize::MAX, |_| {}));
        let lost: Vec<&str> = fleet.lost_nodes(None, None).map(|n| n.identity).collect();
        assert_eq!(lost, ["n7", "n8", "n9"]);
        assert_eq!(fleet.lost_len(), 3);
        // None kept: an expired node is forgotten, as before lost nodes were kept.
        let mut fleet = Fleet::new().with_max_lost(0);
        fleet.observe(&alive_at("n1", "s", "1", 1_000), 1_000);
        assert!(!fleet.expire(2_000, 2_000, usize::MAX, |_| {}));
        assert_eq!((fleet.len(), fleet.lost_len()), (0, 0));
        assert_eq!(
            fleet.observe(&alive_at("n1", "s", "1", 2_100), 2_100),
            Change::Added
        );
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
            position = fleet.walk(
                position,
                position + 37,
                None,
                None,
                StateSelection::Up,
                |node| {
                    *seen.entry(node.identity.to_owned()).or_default() += 1;
                    true
                },
            );
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
        let stopped = fleet.walk(
            0,
            usize::MAX,
            Some("s"),
            Some("2"),
            StateSelection::Up,
            |node| {
                first = Some(node.identity.to_owned());
                false
            },
        );
        assert_eq!(first.as_deref(), Some("new0"));
        assert!(stopped > 0 && stopped <= fleet.positions());
        assert_eq!(
            fleet.walk(
                0,
                usize::MAX,
                Some("nope"),
                None,
                StateSelection::All,
                |_| true
            ),
            fleet.positions()
        );
    }

    /// Whatever the events, the counts equal a recount of the nodes and the last-seen list
    /// stays in order.
    #[test]
    fn counts_never_drift() {
        let mut fleet = Fleet::new().with_max_lost(40);
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
                fleet.expire(step - 2000, step, usize::MAX, |_| {});
                fleet.forget_lost(step - 4000, usize::MAX);
                fleet.retire(step - 2000);
            }
        }
        assert_eq!(recount(&fleet), counts(&fleet));
        let seen: Vec<i64> = fleet.nodes(None, None).map(|n| n.last_seen).collect();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(seen.len(), fleet.len());
        let lost_seen: Vec<i64> = fleet.lost_nodes(None, None).map(|n| n.last_seen).collect();
        assert!(lost_seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(lost_seen.len(), fleet.lost_len());
        assert!(fleet.lost_len() <= 40);
        let mut lost_by_component: BTreeMap<&str, u64> = BTreeMap::new();
        for node in fleet.lost_nodes(None, None) {
            assert_eq!(node.state, NodeState::Lost);
            *lost_by_component.entry(node.component).or_default() += 1;
        }
        for (component, n) in fleet.lost_per_component() {
            assert_eq!(lost_by_component.get(component).copied().unwrap_or(0), n);
        }
        // Every node, up or lost, is in the index and in one walk.
        let mut walked = 0;
        fleet.walk(0, usize::MAX, None, None, StateSelection::All, |_| {
            walked += 1;
            true
        });
        assert_eq!(walked, fleet.len() + fleet.lost_len());
    }
}
