//! Which node runs which version of which component, and when it was last seen.
//!
//! Built for a million nodes: a node is a 24-byte record in a slab, its identity kept in a
//! shared arena ([`Identities`]); an index finds it by component and identity; and every node
//! sits in one of two lists ordered by when the broker received its last event, the up
//! nodes' and the lost nodes', so expiry walks only the nodes that expire. The count per
//! component and version changes only when a node's recorded version or state changes, so
//! it is a function of the state and cannot drift or go negative.
//!
//! Liveness is judged by when the broker received a node's last event (the stream's time on
//! replay, the receive time live), never by the node's own clock: a node whose clock is
//! hours off is neither lost at once nor kept forever, and no event costs more because of
//! its timestamp. Receipts arrive in time order, give or take clocks of servers that
//! disagree, so a node seen again goes to the newest end of its list in O(1): a receipt
//! earlier than the newest one counts as the newest (a node is kept at most that much
//! longer). The event's own timestamp is what is shown (`last_seen`).
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
//! and no name, identity included, longer than [`MAX_NAME_LEN`]. An event past a cap, or
//! naming no node, is refused ([`Refusal`]).

use std::borrow::Cow;

use hashbrown::HashTable;
pub use lifecycle_core::NodeState;
pub use lifecycle_core::selection::{InvalidStateSelection, StateSelection};
use lifecycle_core::{Event, EventKind};

use crate::identities::{Identities, IdentityRef, Parts};
use crate::refusal::Refusal;

/// No node: the end of a last-seen list.
const NONE: u32 = u32::MAX;

/// The component of a free slot in the slab; no component has this number.
const FREE: u16 = u16::MAX;

/// Receipt times are kept in 32 bits, as seconds since the fleet's epoch: this long before
/// its first receipt, so the receipts of 68 years on either side of it are kept as they are.
const EPOCH_BEFORE_FIRST: i64 = 1 << 31;

/// Most components, and most versions of one component, a fleet can track: names are kept
/// as 16-bit numbers, one of which marks free slots.
pub const MAX_NAMES: usize = u16::MAX as usize;

/// Longest identity, component or version name, in bytes. Real ones are a few dozen (a host
/// name is at most 253); each component and version is a label of several series in every
/// scrape.
pub const MAX_NAME_LEN: usize = 256;

/// Components a tally tracks by default: far more than any real fleet runs (Choria's own are
/// a handful), few enough that `/metrics` stays small.
pub const DEFAULT_MAX_COMPONENTS: usize = 1_000;

/// Versions one component may run at once by default: a fleet mid-upgrade runs two or three.
pub const DEFAULT_MAX_VERSIONS: usize = 1_000;

/// Lost nodes kept by default: a whole data centre of a large fleet going dark at once,
/// about 4 MB. Past it the nodes lost longest ago are forgotten first.
pub const DEFAULT_MAX_LOST: usize = 100_000;

/// A node's `seen` when its timestamp is more than 68 years from its receipt (a clock in
/// the year 3000, or 1970): the timestamp is kept in [`Fleet::far_seen`] instead.
const FAR: i32 = i32::MIN;

/// A node: 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Node {
    identity: IdentityRef,
    /// [`FREE`] when the slot holds no node.
    component: u16,
    /// A version of its component (numbered per component): the one it runs, or ran when it
    /// was last seen.
    version: u16,
    /// When the broker received its last event, seconds since the fleet's epoch.
    received: u32,
    /// Its last event's own timestamp (its receipt, when it had none), as seconds after its
    /// receipt; [`FAR`] when that does not fit.
    seen: i32,
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

    /// One node fewer is up on `id`, and none left means none ever was (a snapshot's
    /// duplicate taken back): forgotten when nothing else holds it.
    fn ungained(&mut self, id: u16) {
        self.up[usize::from(id)] -= 1;
        self.settle(id);
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

/// A node as a snapshot writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SnapshotNode<'a> {
    pub(crate) component: u16,
    pub(crate) version: &'a str,
    pub(crate) lost: bool,
    pub(crate) received: i64,
    pub(crate) last_seen: i64,
    pub(crate) identity: Parts<'a>,
}

/// A node as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView<'a> {
    /// Its identity.
    pub identity: Cow<'a, str>,
    /// Its component.
    pub component: &'a str,
    /// The version it runs (or, lost, ran).
    pub version: &'a str,
    /// When it was last seen: its last event's own timestamp, unix seconds (when the broker
    /// received it, for an event stamped 0 or before 1970).
    pub last_seen: i64,
    /// When the broker received its last event, unix seconds: what liveness is judged by.
    pub received: i64,
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
        let node = *node;
        let component = self.component.is_none_or(|c| c == Some(node.component));
        let version = self.versions.as_ref().is_none_or(|versions| {
            versions.get(usize::from(node.component)).copied().flatten() == Some(node.version)
        });
        component && version && self.states.wants(state)
    }
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

/// One of the fleet's two lists of nodes by receipt.
#[derive(Debug, Clone, Copy)]
enum Which {
    Up,
    Lost,
}

/// The fleet: every known node of every component.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<Node>,
    identities: Identities,
    /// One bit per slot: set while its node is lost. Beside the slab rather than in it, so a
    /// node stays 24 bytes.
    lost_bits: Vec<u64>,
    free: Vec<u32>,
    /// Slots by the hash of (component, identity); the hash is recomputed when the table
    /// grows, from the node's identity.
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
    /// The latest receipt so far: a receipt before it counts as it, so the up list stays in
    /// order by receipt whatever the clocks that made them.
    latest: u32,
    /// Unix time of receipt 0; `None` until the first event.
    epoch: Option<i64>,
    /// The timestamps of nodes whose `seen` is [`FAR`], by slot.
    far_seen: hashbrown::HashMap<u32, i64, foldhash::fast::FixedState>,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

/// The slot of `component`'s node `parts`, if the index has one.
fn find_in(
    index: &HashTable<u32>,
    nodes: &[Node],
    identities: &Identities,
    hash: u64,
    component: u16,
    parts: Parts<'_>,
) -> Option<u32> {
    index
        .find(hash, |&n| {
            let node = &nodes[n as usize];
            node.component == component && identities.get(node.identity) == parts
        })
        .copied()
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
            identities: Identities::default(),
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
            latest: 0,
            epoch: None,
            far_seen: Default::default(),
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

    /// A unix time as a receipt, saturating at the ends of the 32 bits kept.
    fn receipt(&self, unix: i64) -> u32 {
        let epoch = self.epoch.unwrap_or(i64::MIN);
        unix.saturating_sub(epoch).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// A receipt as a unix time.
    fn unix(&self, receipt: u32) -> i64 {
        self.epoch.unwrap_or(0) + i64::from(receipt)
    }

    /// Sets node `n`'s timestamp, its receipt already set.
    fn set_last_seen(&mut self, n: u32, last_seen: i64) {
        let after = last_seen.checked_sub(self.unix(self.nodes[n as usize].received));
        let seen = after
            .and_then(|after| i32::try_from(after).ok())
            .filter(|&seen| seen != FAR);
        let node = &mut self.nodes[n as usize];
        match seen {
            Some(seen) => {
                if node.seen == FAR {
                    self.far_seen.remove(&n);
                }
                node.seen = seen;
            }
            None => {
                node.seen = FAR;
                self.far_seen.insert(n, last_seen);
            }
        }
    }

    /// Node `n`'s timestamp.
    fn last_seen(&self, n: u32) -> i64 {
        let node = &self.nodes[n as usize];
        match node.seen {
            FAR => self.far_seen.get(&n).copied().unwrap_or_default(),
            seen => self.unix(node.received) + i64::from(seen),
        }
    }

    /// Applies a lifecycle event the broker received at `received` (unix seconds): that
    /// receipt is what the node's liveness is judged by from now on, and the event's own
    /// timestamp what is shown as when it was last seen (its receipt, for a timestamp of 0
    /// or before). A receipt before the latest one counts as the latest, so the cost is the
    /// same whatever the order of receipts and timestamps.
    ///
    /// Every event must name its component and its node, and its component counts towards
    /// the cap whatever its type; an event that does not, or would pass a cap, is refused
    /// and changes nothing.
    pub fn observe(&mut self, event: &Event, received: i64) -> Change {
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
        if identity.len() > MAX_NAME_LEN {
            return Change::Refused(Refusal::NameTooLong);
        }
        if self.epoch.is_none() {
            self.epoch = Some(received.saturating_sub(EPOCH_BEFORE_FIRST));
        }
        let received = self.receipt(received).max(self.latest);
        self.latest = received;
        let last_seen = match event.timestamp() {
            t if t <= 0 => self.unix(received),
            t => t,
        };
        let parts = Parts::of(identity);
        match event.kind() {
            EventKind::Alive { version } | EventKind::Startup { version } => {
                self.upsert(component, parts, version, received, last_seen)
            }
            EventKind::Upgraded { new_version, .. } => {
                self.upsert(component, parts, new_version, received, last_seen)
            }
            EventKind::Shutdown => match self.find(component, parts) {
                Some(node) => {
                    self.drop_node(node, self.unix(received));
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

    fn hash(&self, component: u16, parts: Parts<'_>) -> u64 {
        Identities::hash(&self.hasher, component, parts)
    }

    fn find(&self, component: u16, parts: Parts<'_>) -> Option<u32> {
        let hash = self.hash(component, parts);
        find_in(
            &self.index,
            &self.nodes,
            &self.identities,
            hash,
            component,
            parts,
        )
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
        parts: Parts<'_>,
        version: &str,
        received: u32,
        last_seen: i64,
    ) -> Change {
        let hash = self.hash(component, parts);
        let found = find_in(
            &self.index,
            &self.nodes,
            &self.identities,
            hash,
            component,
            parts,
        );
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
        let now = self.unix(received);
        let Some(n) = found else {
            return self.insert(component, parts, version, hash, received, last_seen);
        };
        let lost = self.is_lost(n);
        let before = self.nodes[n as usize].version;
        self.unlink(n);
        let node = &mut self.nodes[n as usize];
        node.version = version;
        node.received = received;
        self.set_last_seen(n, last_seen);
        if lost {
            self.set_lost_bit(n, false);
            self.lost -= 1;
            self.up += 1;
        }
        self.link_newest(n);
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
        parts: Parts<'_>,
        version: u16,
        hash: u64,
        received: u32,
        last_seen: i64,
    ) -> Change {
        let n = self.place(component, parts, version, hash, received, last_seen);
        self.link_newest(n);
        self.up += 1;
        self.components[usize::from(component)]
            .versions
            .gained(version);
        Change::Added
    }

    /// Puts a node in a slot and in the index, in no list yet.
    fn place(
        &mut self,
        component: u16,
        parts: Parts<'_>,
        version: u16,
        hash: u64,
        received: u32,
        last_seen: i64,
    ) -> u32 {
        // Grown before the node is in the slab, which the growth walks.
        if self.index.len() >= self.index.capacity() {
            self.grow_index();
        }
        let node = Node {
            identity: self.identities.insert(parts),
            component,
            version,
            received,
            seen: 0,
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
        let Fleet {
            index,
            nodes,
            identities,
            hasher,
            ..
        } = self;
        index.insert_unique(hash, n, |&m| {
            let node = &nodes[m as usize];
            Identities::hash(hasher, node.component, identities.get(node.identity))
        });
        self.set_last_seen(n, last_seen);
        n
    }

    /// Makes the index twice as large. The table itself would rehash its entries in the
    /// order of its buckets, reading each node and identity at random (two cache misses
    /// each, at a million nodes); walking the slab reads both in the order they are laid out.
    fn grow_index(&mut self) {
        let mut index = HashTable::with_capacity((self.index.capacity() * 2).max(64));
        let Fleet {
            nodes,
            identities,
            hasher,
            ..
        } = &*self;
        let hash_of = |n: u32| {
            let node = &nodes[n as usize];
            Identities::hash(hasher, node.component, identities.get(node.identity))
        };
        for (n, node) in nodes.iter().enumerate() {
            if node.component != FREE {
                index.insert_unique(hash_of(n as u32), n as u32, |&m| hash_of(m));
            }
        }
        self.index = index;
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
        let node = self.nodes[n as usize];
        let hash = self.hash(node.component, self.identities.get(node.identity));
        if let Ok(entry) = self.index.find_entry(hash, |&m| m == n) {
            entry.remove();
        }
        self.set_lost_bit(n, false);
        self.identities.remove(node.identity);
        if node.seen == FAR {
            self.far_seen.remove(&n);
        }
        self.nodes[n as usize].component = FREE;
        self.free.push(n);
        if self.identities.wants_compaction() {
            let Fleet {
                nodes, identities, ..
            } = self;
            identities.compact(
                nodes
                    .iter_mut()
                    .filter(|node| node.component != FREE)
                    .map(|node| &mut node.identity),
            );
        }
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

    /// Links `n` at the newest end of the list of its state: receipts come in time order (a
    /// late one counts as the latest), and nodes are lost in it, so that is its place.
    fn link_newest(&mut self, n: u32) {
        let lost = self.is_lost(n);
        let mut list = self.list(lost);
        self.nodes[n as usize].older = list.newest;
        self.nodes[n as usize].newer = NONE;
        match list.newest {
            NONE => list.oldest = n,
            w => self.nodes[w as usize].newer = n,
        }
        list.newest = n;
        self.set_list(lost, list);
    }

    /// Marks up to `limit` up nodes whose last event the broker received before `cutoff`
    /// (unix seconds) lost at `now`, oldest first, calling `expired` with each one's
    /// component; past the cap of lost nodes, those lost longest ago are forgotten. Costs in
    /// proportion to what expires; returns whether more remain, so a caller can release its
    /// lock between batches.
    pub fn expire(
        &mut self,
        cutoff: i64,
        now: i64,
        limit: usize,
        mut expired: impl FnMut(&str),
    ) -> bool {
        let cutoff = self.receipt(cutoff);
        for _ in 0..limit {
            if !self.oldest_before(Which::Up, cutoff) {
                return false;
            }
            let n = self.up_list.oldest;
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
            self.link_newest(n);
            self.up -= 1;
            self.lost += 1;
            let component = &mut self.components[component];
            component.lost += 1;
            component.versions.went_lost(version, now);
            if self.lost > self.max_lost {
                self.drop_node(self.lost_list.oldest, now);
            }
        }
        self.oldest_before(Which::Up, cutoff)
    }

    /// Forgets up to `limit` lost nodes whose last event the broker received before
    /// `cutoff`, oldest first; returns whether more remain.
    pub fn forget_lost(&mut self, cutoff: i64, limit: usize) -> bool {
        let cutoff = self.receipt(cutoff);
        for _ in 0..limit {
            if !self.oldest_before(Which::Lost, cutoff) {
                return false;
            }
            // A lost node is no longer counted in its version: `now` is not used.
            self.drop_node(self.lost_list.oldest, i64::MIN);
        }
        self.oldest_before(Which::Lost, cutoff)
    }

    /// Whether the broker received the last event of the oldest node of `which` list
    /// before `cutoff` (a receipt).
    fn oldest_before(&self, which: Which, cutoff: u32) -> bool {
        let list = match which {
            Which::Up => &self.up_list,
            Which::Lost => &self.lost_list,
        };
        list.oldest != NONE && self.nodes[list.oldest as usize].received < cutoff
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
    /// the one whose last event the broker received longest ago first.
    pub fn nodes<'a>(
        &'a self,
        component: Option<&str>,
        version: Option<&str>,
    ) -> impl Iterator<Item = NodeView<'a>> + 'a {
        self.in_list(self.up_list, component, version)
    }

    /// The lost nodes of `component` (all when `None`) that ran `version` (any when `None`),
    /// the one whose last event the broker received longest ago first.
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
        let node = self.nodes[n as usize];
        let component = &self.components[usize::from(node.component)];
        NodeView {
            identity: self.identities.get(node.identity).joined(),
            component: &component.name,
            version: component.versions.name(node.version),
            last_seen: self.last_seen(n),
            received: self.unix(node.received),
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

    /// What a snapshot needs to say before its nodes: the fleet's epoch and latest receipt.
    pub(crate) fn receipts(&self) -> (i64, i64) {
        (self.epoch.unwrap_or(0), self.unix(self.latest))
    }

    /// The name of component `component`, for a snapshot.
    pub(crate) fn component_name(&self, component: u16) -> &str {
        &self.components[usize::from(component)].name
    }

    /// How many components are known.
    pub(crate) fn component_count(&self) -> usize {
        self.components.len()
    }

    /// The versions shown with no node, with when their last node left, for a snapshot.
    pub(crate) fn emptied_versions(&self) -> impl Iterator<Item = (u16, &str, i64)> {
        self.components
            .iter()
            .enumerate()
            .flat_map(|(c, component)| {
                let versions = &component.versions;
                versions
                    .emptied
                    .iter()
                    .enumerate()
                    .filter_map(move |(v, emptied)| {
                        emptied.map(|at| (c as u16, versions.name(v as u16), at))
                    })
            })
    }

    /// Walks positions `from..to` in order for a snapshot, calling `visit` with each node's
    /// component number, version name, whether it is lost, receipt, last seen and identity;
    /// returns the position after the last one looked at.
    pub(crate) fn snapshot_walk(
        &self,
        from: usize,
        to: usize,
        mut visit: impl FnMut(SnapshotNode<'_>),
    ) -> usize {
        let to = to.min(self.nodes.len());
        for position in from..to {
            let node = self.nodes[position];
            if node.component == FREE {
                continue;
            }
            let component = &self.components[usize::from(node.component)];
            visit(SnapshotNode {
                component: node.component,
                version: component.versions.name(node.version),
                lost: self.is_lost(position as u32),
                received: self.unix(node.received),
                last_seen: self.last_seen(position as u32),
                identity: self.identities.get(node.identity),
            });
        }
        to.max(from)
    }

    /// An empty fleet with these caps, about to be restored from a snapshot whose receipts
    /// count from `epoch`.
    pub(crate) fn restoring(&self, epoch: i64, nodes: usize) -> Fleet {
        let mut fleet =
            Fleet::with_caps(self.max_components, self.max_versions).with_max_lost(self.max_lost);
        fleet.epoch = Some(epoch);
        fleet.nodes.reserve_exact(nodes);
        fleet.index.reserve(nodes, |_| 0);
        fleet
    }

    /// Numbers component `name` as [`Fleet::observe`] would.
    pub(crate) fn restore_component(&mut self, name: &str) -> Result<u16, Refusal> {
        self.component_id(name)
    }

    /// Numbers `version` of `component`, within the cap.
    pub(crate) fn restore_version(
        &mut self,
        component: u16,
        version: &str,
    ) -> Result<u16, Refusal> {
        let versions = &mut self
            .components
            .get_mut(usize::from(component))
            .ok_or(Refusal::NoComponent)?
            .versions;
        if let Some(id) = versions.find(version) {
            return Ok(id);
        }
        if version.len() > MAX_NAME_LEN {
            return Err(Refusal::NameTooLong);
        }
        if versions.len() >= self.max_versions {
            return Err(Refusal::TooManyVersions);
        }
        Ok(versions.add(version))
    }

    /// Shows `version` of `component` with no node since `at`, as a snapshot says.
    pub(crate) fn restore_emptied(&mut self, component: u16, version: u16, at: i64) {
        let versions = &mut self.components[usize::from(component)].versions;
        if versions.up[usize::from(version)] == 0 {
            versions.emptied[usize::from(version)] = Some(at);
        }
    }

    /// Places a node a snapshot holds, in no list yet ([`Fleet::finish_restore`] makes
    /// them). A snapshot written while the fleet changed may hold a node twice: the one
    /// received later is kept.
    pub(crate) fn restore_node(
        &mut self,
        component: u16,
        version: u16,
        lost: bool,
        received: i64,
        last_seen: i64,
        identity: &str,
    ) -> Result<(), Refusal> {
        if identity.is_empty() {
            return Err(Refusal::NoIdentity);
        }
        if identity.len() > MAX_NAME_LEN {
            return Err(Refusal::NameTooLong);
        }
        let parts = Parts::of(identity);
        let received = self.receipt(received);
        if let Some(n) = self.find(component, parts) {
            let existing = self.nodes[n as usize];
            if existing.received >= received {
                return Ok(());
            }
            let was_lost = self.is_lost(n);
            let versions = &mut self.components[usize::from(component)].versions;
            if was_lost {
                versions.released(existing.version);
                self.components[usize::from(component)].lost -= 1;
                self.lost -= 1;
            } else {
                versions.ungained(existing.version);
                self.up -= 1;
            }
            self.free_slot(n);
        }
        let hash = self.hash(component, parts);
        let n = self.place(component, parts, version, hash, received, last_seen);
        if lost {
            self.set_lost_bit(n, true);
            let component = &mut self.components[usize::from(component)];
            component.lost += 1;
            component.versions.lost[usize::from(version)] += 1;
            self.lost += 1;
        } else {
            self.components[usize::from(component)]
                .versions
                .gained(version);
            self.up += 1;
        }
        Ok(())
    }

    /// Links the restored nodes into their lists in order of receipt (a bucket sort through
    /// the nodes' own links: no memory beyond one word per bucket), and keeps the cap of
    /// lost nodes.
    pub(crate) fn finish_restore(&mut self) {
        for lost in [false, true] {
            self.link_in_receipt_order(lost);
        }
        while self.lost > self.max_lost {
            self.drop_node(self.lost_list.oldest, i64::MIN);
        }
    }

    fn link_in_receipt_order(&mut self, lost: bool) {
        let in_list = |fleet: &Fleet, n: usize| {
            fleet.nodes[n].component != FREE && fleet.is_lost(n as u32) == lost
        };
        let (mut low, mut high) = (u32::MAX, 0u32);
        for n in 0..self.nodes.len() {
            if in_list(self, n) {
                let received = self.nodes[n].received;
                low = low.min(received);
                high = high.max(received);
            }
        }
        if low > high {
            return;
        }
        // A bucket per second of receipts, or per 2^shift seconds when they span more
        // than a million seconds (a bucket's nodes are then sorted).
        let mut shift = 0;
        while u64::from(high - low) >> shift >= 1 << 20 {
            shift += 1;
        }
        let mut heads = vec![NONE; (((high - low) >> shift) + 1) as usize];
        for n in 0..self.nodes.len() {
            if in_list(self, n) {
                let bucket = ((self.nodes[n].received - low) >> shift) as usize;
                self.nodes[n].newer = heads[bucket];
                heads[bucket] = n as u32;
            }
        }
        let mut chain = Vec::new();
        for head in heads {
            let mut n = head;
            while n != NONE {
                let next = self.nodes[n as usize].newer;
                if shift == 0 {
                    // One second a bucket: its nodes are in order as they come.
                    self.link_newest(n);
                } else {
                    chain.push(n);
                }
                n = next;
            }
            chain.sort_by_key(|&n| self.nodes[n as usize].received);
            for n in chain.drain(..) {
                self.link_newest(n);
            }
        }
        self.latest = self.latest.max(high);
    }

    /// Bytes the fleet holds on the heap, roughly: slab, index, identities, lost bits.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.index.capacity() * 5
            + self.identities.heap_bytes()
            + self.lost_bits.capacity() * 8
            + self.free.capacity() * 4
            + self.far_seen.capacity() * 16
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use lifecycle_core::{Event, EventType};

    use super::*;

    /// An event of `kind` from `identity` about `component` at `version`, stamped `at`.
    pub(crate) fn event(
        kind: EventType,
        identity: &str,
        component: &str,
        version: &str,
        at: i64,
    ) -> Event {
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
        let steps = [
            (event(Startup, "a", "server", "1.0", 100), Change::Added),
            (event(Alive, "b", "server", "1.0", 110), Change::Added),
            (event(Alive, "c", "broker", "2.0", 120), Change::Added),
            (event(Alive, "a", "server", "1.0", 130), Change::Refreshed),
            (
                event(Alive, "b", "server", "1.1", 140),
                Change::Moved { from: "1.0".into() },
            ),
            (
                upgraded("a", "1.0", "1.2", 150),
                Change::Moved { from: "1.0".into() },
            ),
            (
                event(Provisioned, "d", "server", "", 150),
                Change::Unchanged,
            ),
            (event(Shutdown, "c", "broker", "", 160), Change::Removed),
            (event(Shutdown, "zz", "broker", "", 160), Change::Unchanged),
        ];
        for (event, change) in steps {
            assert_eq!(fleet.observe(&event, now), change, "{event}");
        }
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
                identity: "a".into(),
                component: "server",
                version: "1.2",
                last_seen: 150,
                received: now,
                state: NodeState::Up,
            }]
        );
        assert_eq!(fleet.nodes(Some("nope"), None).count(), 0);
        assert_eq!(fleet.nodes(None, Some("9.9")).count(), 0);
    }

    #[test]
    fn expiry_takes_those_received_longest_ago_and_only_those() {
        let mut fleet = Fleet::new();
        // n0 ... n99, received at 1 ... 100, stamped by clocks all over the place.
        for i in 0..100 {
            let stamp = [i + 1, 5_000_000_000, 1, -7][i as usize % 4];
            fleet.observe(
                &event(EventType::Alive, &format!("n{i}"), "server", "1", stamp),
                i + 1,
            );
        }
        // A receipt earlier than the latest (another server's clock) counts as the latest.
        fleet.observe(&event(EventType::Alive, "late", "server", "1", 5), 5);
        let mut expired = Vec::new();
        assert!(fleet.expire(10, 1_000, 3, |c| expired.push(c.to_owned())));
        assert_eq!(expired, ["server"; 3]);
        assert!(!fleet.expire(10, 1_000, 100, |_| {}));
        let left: Vec<String> = fleet
            .nodes(None, None)
            .map(|n| n.identity.into_owned())
            .take(2)
            .collect();
        assert_eq!(left, ["n9", "n10"]);
        assert_eq!(fleet.len(), 92);
        assert_eq!(recount(&fleet), counts(&fleet));
        let late = fleet.nodes(None, None).last().unwrap();
        assert_eq!(
            (&*late.identity, late.received, late.last_seen),
            ("late", 100, 5)
        );
        // Seen again: no longer the oldest.
        fleet.observe(&event(EventType::Alive, "n9", "server", "1", 500), 101);
        assert_eq!(fleet.nodes(None, None).next().unwrap().identity, "n10");
        assert_eq!(fleet.nodes(None, None).last().unwrap().identity, "n9");
    }

    /// The event's own clock decides nothing about liveness, and is what is shown: ahead,
    /// behind, absurd.
    #[test]
    fn clocks_ahead_behind_and_absurd_are_shown_and_never_judged() {
        let hour = 3_600;
        let now = 1_800_000_000;
        let stamps = [
            ("ahead", now + 5 * hour),
            ("behind", now - 5 * hour),
            ("zero", 0),
            ("negative", -1_000_000),
            ("far-future", i64::MAX),
            ("far-past", i64::MIN),
        ];
        let mut fleet = Fleet::new();
        for (identity, stamp) in stamps {
            let change = fleet.observe(&event(EventType::Alive, identity, "s", "1", stamp), now);
            assert_eq!(change, Change::Added, "{identity}");
        }
        let shown: BTreeMap<String, (i64, i64)> = fleet
            .nodes(None, None)
            .map(|n| (n.identity.into_owned(), (n.last_seen, n.received)))
            .collect();
        for (identity, stamp) in stamps {
            // No timestamp (0) or one before 1970: shown as received.
            let want = if stamp <= 0 { now } else { stamp };
            assert_eq!(shown[identity], (want, now), "{identity}");
        }
        // Not lost at once, whatever they said: a max age of an hour has not passed.
        assert!(!fleet.expire(now - hour, now, usize::MAX, |_| {}));
        assert_eq!(fleet.len(), stamps.len());
        // Nor kept forever: an hour and a second after they were received, all are lost.
        assert!(!fleet.expire(now + 1, now + hour + 1, usize::MAX, |_| {}));
        assert_eq!((fleet.len(), fleet.lost_len()), (0, stamps.len()));
        // Back, with a clock an hour behind: up, and judged by the receipt.
        let back = event(EventType::Alive, "behind", "s", "1", now + hour - hour);
        assert_eq!(fleet.observe(&back, now + hour + 2), Change::Returned);
        let node = fleet.nodes(None, None).next().unwrap();
        assert_eq!((node.last_seen, node.received), (now, now + hour + 2));
        // Timestamps too far from their receipt for a node's own 32 bits are kept aside,
        // and go with their nodes.
        assert_eq!(fleet.far_seen.len(), 1);
        assert!(!fleet.forget_lost(i64::MAX, usize::MAX));
        assert!(fleet.far_seen.is_empty());
    }

    /// Whatever the order of timestamps, nodes are linked in O(1): a million in order,
    /// reversed, saw-toothed or one in a hundred an hour behind make the same lists.
    #[test]
    fn the_order_of_timestamps_changes_nothing_in_the_lists() {
        type Stamp = fn(i64) -> i64;
        let patterns: [(&str, Stamp); 4] = [
            ("in order", |i| 1_700_000_000 + i),
            ("reversed", |i| 1_700_000_000 - i),
            ("saw-tooth", |i| 1_700_000_000 + i % 1_000 * 60),
            ("one in a hundred an hour behind", |i| {
                1_700_000_000 + i - if i % 100 == 0 { 3_600 } else { 0 }
            }),
        ];
        for (name, stamp) in patterns {
            let mut fleet = Fleet::new();
            for i in 0..20_000 {
                let alive = event(EventType::Alive, &format!("n{i}"), "s", "1", stamp(i));
                fleet.observe(&alive, 1_700_000_000 + i / 100);
            }
            let received: Vec<i64> = fleet.nodes(None, None).map(|n| n.received).collect();
            assert!(received.windows(2).all(|w| w[0] <= w[1]), "{name}");
            assert_eq!(received.len(), 20_000, "{name}");
        }
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
        let mut lost: Vec<(String, &str)> = fleet
            .lost_nodes(None, None)
            .map(|n| (n.identity.into_owned(), n.version))
            .collect();
        lost.sort_unstable();
        assert_eq!(lost, [("n1".into(), "2"), ("n3".into(), "1")]);
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
                identity: "b1".into(),
                component: "b",
                version: "7",
                last_seen: 1_000,
                received: 1_000,
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
        let lost: Vec<String> = fleet
            .lost_nodes(None, None)
            .map(|n| n.identity.into_owned())
            .collect();
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
        assert_eq!(
            fleet.observe(&alive(&long, "s", "1"), 1_000),
            Change::Refused(Refusal::NameTooLong)
        );
        assert_eq!(fleet.observe(&alive(&fits, "s", "1"), 1_000), Change::Added);
    }

    /// Nodes that come and go leave their identities behind as garbage, rewritten away
    /// once it outweighs the rest; every node is still found by its identity after.
    #[test]
    fn identities_of_nodes_gone_are_compacted_away() {
        let mut fleet = Fleet::new();
        for i in 0..2_000 {
            fleet.observe(&alive(&format!("stay{i}.example.net"), "s", "1"), 1_000);
        }
        for i in 0..20_000 {
            let name = format!("churn{i}.dc{}.example.net", i % 7);
            fleet.observe(&alive(&name, "s", "1"), 1_000);
            let gone = event(EventType::Shutdown, &name, "s", "", 1_000);
            assert_eq!(fleet.observe(&gone, 1_000), Change::Removed);
        }
        assert!(fleet.identities.heap_bytes() < 4 * 64 * 1024);
        for i in 0..2_000 {
            let name = format!("stay{i}.example.net");
            assert_eq!(
                fleet.observe(&alive(&name, "s", "2"), 1_001),
                Change::Moved { from: "1".into() }
            );
        }
        assert_eq!(fleet.len(), 2_000);
        assert_eq!(recount(&fleet), counts(&fleet));
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
                    *seen.entry(node.identity.into_owned()).or_default() += 1;
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
                first = Some(node.identity.into_owned());
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
            fleet.observe(&event(kind, &identity, component, &version, at), at);
            if step % 1000 == 0 {
                fleet.expire(step - 2000, step, usize::MAX, |_| {});
                fleet.forget_lost(step - 4000, usize::MAX);
                fleet.retire(step - 2000);
            }
        }
        assert_eq!(recount(&fleet), counts(&fleet));
        let seen: Vec<i64> = fleet.nodes(None, None).map(|n| n.received).collect();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(seen.len(), fleet.len());
        let lost_seen: Vec<i64> = fleet.lost_nodes(None, None).map(|n| n.received).collect();
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
        // Every node, up or lost, is in the index once, and in one walk.
        assert_eq!(fleet.index.len(), fleet.len() + fleet.lost_len());
        let mut walked = 0;
        fleet.walk(0, usize::MAX, None, None, StateSelection::All, |_| {
            walked += 1;
            true
        });
        assert_eq!(walked, fleet.len() + fleet.lost_len());
    }
}
