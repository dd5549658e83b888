//! A rollout gate: each key's latest state, whether it meets a condition, and whether enough
//! keys do (DESIGN.md, "Waiting on fleet state").
//!
//! Per key (the identity, by default) the latest lifecycle event decides the key's state as
//! the tally keeps a node's ([`lifecycle_core::NodeChange`]): startup and alive set the version
//! it runs, upgraded its new version, a shutdown removes the key (the node is gone, not
//! failing), provisioned and governor events change nothing. The condition (`--until`) is the
//! filter language evaluated on that state written as an alive event
//! ([`lifecycle_core::Event::node_state`]): `.version>=0.30.0` is the version the node runs
//! now, whatever type of event said so. A later event that breaks the condition makes the key
//! fail again, as OpenSVC's `passSet` removes a key whose condition turned false.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use lifecycle_core::{AnyEvent, Filter, NodeChange, NodeState};

use lifecycle_core::KeyBy;

use crate::node::{Key, key};
use lifecycle_tally_api::Node;

/// Most keys a gate keeps unless told otherwise: far past any real fleet, and a bound on
/// what a flood of made-up identities costs (a few hundred bytes a key).
pub const DEFAULT_MAX_KEYS: usize = 2_000_000;

/// How many keys must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// At least this many.
    Count(u64),
    /// Every key known, and at least one.
    All,
    /// At least this share of the keys known (rounded up), and at least one.
    Fraction(Fraction),
}

impl Target {
    /// How many keys must pass when `known` are known.
    pub fn needed(self, known: usize) -> u64 {
        let known = known as u64;
        match self {
            Target::Count(n) => n,
            Target::All => known.max(1),
            Target::Fraction(f) => f.of(known).max(1),
        }
    }
}

/// A share from 0 (excluded) to 1, read exactly from its decimal text (`0.97` is 97/100,
/// so 0.97 of 100 nodes is 97, not 98 as `f64` rounding would make it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    numerator: u64,
    denominator: u64,
}

impl Fraction {
    /// `ceil(count × self)`.
    pub fn of(self, count: u64) -> u64 {
        let product = u128::from(count) * u128::from(self.numerator);
        let denominator = u128::from(self.denominator);
        u64::try_from(product.div_ceil(denominator)).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numerator == self.denominator {
            return f.write_str("1");
        }
        let digits = self.denominator.ilog10() as usize;
        let decimals = format!("{:0digits$}", self.numerator);
        write!(f, "0.{}", decimals.trim_end_matches('0'))
    }
}

impl FromStr for Fraction {
    type Err = String;

    /// `0.95`, `.5`, `1`, `1.0`: a decimal above 0 and at most 1, at most 9 decimals.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!(
                "invalid fraction '{}' (expected a decimal above 0 and at most 1, e.g. 0.95)",
                lifecycle_core::terminal::TerminalSafe(s)
            )
        };
        let (whole, decimals) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(decimals) || decimals.len() > 9 || s.is_empty() || s == "." {
            return Err(invalid());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let decimals = decimals.trim_end_matches('0');
        let denominator = 10u64.pow(decimals.len() as u32);
        let part: u64 = if decimals.is_empty() {
            0
        } else {
            decimals.parse().map_err(|_| invalid())?
        };
        let numerator = whole
            .checked_mul(denominator)
            .and_then(|n| n.checked_add(part))
            .ok_or_else(invalid)?;
        if numerator == 0 || numerator > denominator {
            return Err(invalid());
        }
        Ok(Fraction {
            numerator,
            denominator,
        })
    }
}

struct Entry {
    node: Node,
    passes: bool,
}

/// Each key's latest state, whether it passes the condition, and whether enough keys do.
///
/// ```
/// use lifecycle_core::{AnyEvent, Event, EventType, Filter};
/// use lifecycle_watch::{Gate, Target};
///
/// let alive = |identity: &str, version: &str| -> AnyEvent {
///     Event::builder(EventType::Alive).identity(identity).component("server")
///         .version(version).timestamp(1_700_000_000).build().unwrap().into()
/// };
/// let mut gate = Gate::new(Filter::parse(".version>=0.30.0").unwrap(), Target::All);
/// gate.observe(&alive("n1", "0.30.0"), 1_700_000_000);
/// gate.observe(&alive("n2", "0.29.4"), 1_700_000_000);
/// assert!(!gate.is_met());
/// assert_eq!(gate.to_string(), "1/2 nodes pass");
/// gate.observe(&alive("n2", "0.30.0"), 1_700_000_000);
/// assert!(gate.is_met());
/// gate.observe(&alive("n1", "0.29.4"), 1_700_000_000); // rolled back
/// assert!(!gate.is_met());
/// assert_eq!(gate.failing()[0].identity, "n1");
/// ```
pub struct Gate {
    key_by: KeyBy,
    until: Filter,
    target: Target,
    nodes: HashMap<Key, Entry>,
    passing: usize,
    max_keys: usize,
    refused: u64,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("key_by", &self.key_by)
            .field("target", &self.target)
            .field("known", &self.nodes.len())
            .field("passing", &self.passing)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// A gate keyed by identity that `target` keys must pass by meeting `until`.
    pub fn new(until: Filter, target: Target) -> Gate {
        Gate {
            key_by: KeyBy::default(),
            until,
            target,
            nodes: HashMap::new(),
            passing: 0,
            max_keys: DEFAULT_MAX_KEYS,
            refused: 0,
        }
    }

    /// Keyed by `key_by` instead.
    pub fn key_by(mut self, key_by: KeyBy) -> Gate {
        self.key_by = key_by;
        self
    }

    /// Keeps at most `max` keys; events of more are refused ([`Gate::refused`]).
    pub fn max_keys(mut self, max: usize) -> Gate {
        self.max_keys = max;
        self
    }

    /// Takes an event the filter selected, at `now` (unix seconds); returns whether the keys
    /// known or passing changed. Machine events and events without an identity or a
    /// component say nothing of a node's state and are ignored. A node's last-seen time is
    /// the event's own, or `now` when that is missing (0) or to come.
    pub fn observe(&mut self, event: &AnyEvent, now: i64) -> bool {
        let AnyEvent::Lifecycle(event) = event else {
            return false;
        };
        let (identity, component) = (event.identity(), event.component());
        if identity.is_empty() || component.is_empty() {
            return false;
        }
        let key = key(self.key_by, identity, component);
        match event.node_change() {
            NodeChange::Unchanged => false,
            NodeChange::Stopped => self.remove(&key),
            NodeChange::Runs(version) => {
                let last_seen = match event.timestamp() {
                    t if t <= 0 || t > now => now,
                    t => t,
                };
                let node = Node {
                    identity: identity.to_owned(),
                    component: component.to_owned(),
                    version: version.to_owned(),
                    last_seen,
                    state: NodeState::Up,
                };
                self.set(key, node)
            }
        }
    }

    /// Takes a node known from elsewhere (a tally's API), as its latest state; returns
    /// whether the keys known or passing changed.
    pub fn insert(&mut self, node: Node) -> bool {
        let key = key(self.key_by, &node.identity, &node.component);
        self.set(key, node)
    }

    fn set(&mut self, key: Key, node: Node) -> bool {
        let passes = self.until.matches(&node.as_event());
        let full = self.nodes.len() >= self.max_keys;
        match self.nodes.get_mut(&key) {
            Some(entry) => {
                let changed = entry.passes != passes;
                if changed {
                    if passes {
                        self.passing += 1;
                    } else {
                        self.passing -= 1;
                    }
                }
                *entry = Entry { node, passes };
                changed
            }
            None if full => {
                self.refused = self.refused.saturating_add(1);
                false
            }
            None => {
                self.passing += usize::from(passes);
                self.nodes.insert(key, Entry { node, passes });
                true
            }
        }
    }

    fn remove(&mut self, key: &Key) -> bool {
        match self.nodes.remove(key) {
            Some(entry) => {
                self.passing -= usize::from(entry.passes);
                true
            }
            None => false,
        }
    }

    /// Keys that pass.
    pub fn passing(&self) -> usize {
        self.passing
    }

    /// Keys known.
    pub fn known(&self) -> usize {
        self.nodes.len()
    }

    /// How many keys must pass, with those known now.
    pub fn needed(&self) -> u64 {
        self.target.needed(self.nodes.len())
    }

    /// Whether enough keys pass.
    pub fn is_met(&self) -> bool {
        self.passing as u64 >= self.needed()
    }

    /// Events of new keys refused because [`Gate::max_keys`] were known.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The keys' latest states, ordered by identity then component.
    pub fn nodes(&self) -> Vec<&Node> {
        self.sorted(|_| true)
    }

    /// The latest states of the keys that do not pass, ordered by identity then component.
    pub fn failing(&self) -> Vec<&Node> {
        self.sorted(|entry| !entry.passes)
    }

    /// The latest states of the keys that pass, ordered by identity then component.
    pub fn passed(&self) -> Vec<&Node> {
        self.sorted(|entry| entry.passes)
    }

    fn sorted(&self, keep: impl Fn(&Entry) -> bool) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = (self.nodes.values())
            .filter(|entry| keep(entry))
            .map(|entry| &entry.node)
            .collect();
        nodes.sort_by(|a, b| (&a.identity, &a.component).cmp(&(&b.identity, &b.component)));
        nodes
    }

    fn unit(&self) -> &'static str {
        match self.key_by {
            KeyBy::Identity => "nodes",
            KeyBy::Component => "components",
            KeyBy::IdentityComponent => "components on nodes",
        }
    }
}

/// `97/100 nodes pass`; with a count or a fraction, also how many are needed.
impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (passing, unit) = (self.passing, self.unit());
        match self.target {
            Target::All => write!(f, "{passing}/{} {unit} pass", self.known()),
            Target::Count(n) => write!(f, "{passing}/{n} {unit} pass"),
            Target::Fraction(fraction) => write!(
                f,
                "{passing}/{} {unit} pass, {} needed ({fraction})",
                self.known(),
                self.needed()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_core::{Event, EventType, GovernorEventType};

    use super::*;

    const NOW: i64 = 1_700_000_000;

    /// `type identity[/component] [version]`: `alive n1 0.30.0`, `shutdown n1`,
    /// `upgraded n1/broker 0.30.0` (upgraded from 0.29.4).
    fn event(line: &str) -> AnyEvent {
        let mut words = line.split(' ');
        let event_type: EventType = words.next().unwrap().parse().unwrap();
        let who = words.next().unwrap();
        let (identity, component) = who.split_once('/').unwrap_or((who, "server"));
        let mut builder = Event::builder(event_type)
            .identity(identity)
            .component(component)
            .timestamp(NOW - 10);
        if let Some(version) = words.next() {
            builder = match event_type {
                EventType::Upgraded => builder.version("0.29.4").new_version(version),
                _ => builder.version(version),
            };
        }
        if event_type == EventType::Governor {
            builder = builder
                .governor("g")
                .sequence(1)
                .governor_event(GovernorEventType::Enter);
        }
        builder.build().unwrap().into()
    }

    fn names(nodes: Vec<&Node>) -> Vec<String> {
        nodes
            .iter()
            .map(|n| format!("{}/{}", n.identity, n.component))
            .collect()
    }

    /// Events in, then the keys passing, the keys failing and whether the gate is met.
    #[test]
    fn the_latest_event_of_each_key_decides() {
        struct Case {
            name: &'static str,
            key_by: KeyBy,
            target: Target,
            events: &'static [&'static str],
            passing: &'static [&'static str],
            failing: &'static [&'static str],
            met: bool,
        }
        let fraction = |s: &str| Target::Fraction(s.parse().unwrap());
        let cases = [
            Case {
                name: "all pass",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &["alive n1 0.30.0", "startup n2 0.30.1"],
                passing: &["n1/server", "n2/server"],
                failing: &[],
                met: true,
            },
            Case {
                name: "a rollback fails again",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &["alive n1 0.30.0", "alive n2 0.30.0", "alive n2 0.29.4"],
                passing: &["n1/server"],
                failing: &["n2/server"],
                met: false,
            },
            Case {
                name: "an upgraded event counts its new version",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &["alive n1 0.29.4", "upgraded n1 0.30.0"],
                passing: &["n1/server"],
                failing: &[],
                met: true,
            },
            Case {
                name: "a shutdown removes the key from the fleet",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &["alive n1 0.30.0", "alive n2 0.29.4", "shutdown n2"],
                passing: &["n1/server"],
                failing: &[],
                met: true,
            },
            Case {
                name: "provisioned and governor change nothing",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &[
                    "alive n1 0.30.0",
                    "provisioned n1",
                    "governor n1",
                    "governor n2",
                ],
                passing: &["n1/server"],
                failing: &[],
                met: true,
            },
            Case {
                name: "no node known is not all",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &["shutdown n1"],
                passing: &[],
                failing: &[],
                met: false,
            },
            Case {
                name: "a count",
                key_by: KeyBy::Identity,
                target: Target::Count(2),
                events: &["alive n1 0.30.0", "alive n2 0.29.0", "alive n3 0.30.0"],
                passing: &["n1/server", "n3/server"],
                failing: &["n2/server"],
                met: true,
            },
            Case {
                name: "a fraction rounds up",
                key_by: KeyBy::Identity,
                target: fraction("0.5"),
                events: &["alive n1 0.30.0", "alive n2 0.29.0", "alive n3 0.29.0"],
                passing: &["n1/server"],
                failing: &["n2/server", "n3/server"],
                met: false,
            },
            Case {
                name: "keyed by identity, the latest component's state decides",
                key_by: KeyBy::Identity,
                target: Target::All,
                events: &["alive n1/server 0.30.0", "alive n1/broker 0.29.0"],
                passing: &[],
                failing: &["n1/broker"],
                met: false,
            },
            Case {
                name: "keyed by identity and component, each decides",
                key_by: KeyBy::IdentityComponent,
                target: Target::Count(1),
                events: &["alive n1/server 0.30.0", "alive n1/broker 0.29.0"],
                passing: &["n1/server"],
                failing: &["n1/broker"],
                met: true,
            },
            Case {
                name: "keyed by component",
                key_by: KeyBy::Component,
                target: Target::All,
                events: &["alive n1/server 0.29.0", "alive n2/server 0.30.0"],
                passing: &["n2/server"],
                failing: &[],
                met: true,
            },
        ];
        for case in cases {
            let until = Filter::parse(".version>=0.30.0").unwrap();
            let mut gate = Gate::new(until, case.target).key_by(case.key_by);
            for line in case.events {
                gate.observe(&event(line), NOW);
            }
            assert_eq!(names(gate.passed()), case.passing, "{}", case.name);
            assert_eq!(names(gate.failing()), case.failing, "{}", case.name);
            assert_eq!(gate.passing(), case.passing.len(), "{}", case.name);
            assert_eq!(
                gate.known(),
                case.passing.len() + case.failing.len(),
                "{}",
                case.name
            );
            assert_eq!(gate.is_met(), case.met, "{}", case.name);
        }
    }

    #[test]
    fn what_changed_and_what_is_kept() {
        let mut gate = Gate::new(Filter::parse(".version>=0.30.0").unwrap(), Target::All);
        assert!(gate.observe(&event("alive n1 0.29.4"), NOW));
        // The same state again changes no count.
        assert!(!gate.observe(&event("alive n1 0.29.5"), NOW));
        assert!(gate.observe(&event("alive n1 0.30.0"), NOW));
        assert!(!gate.observe(&event("provisioned n1"), NOW));
        assert!(gate.observe(&event("shutdown n1"), NOW));
        assert!(!gate.observe(&event("shutdown n1"), NOW));
        gate.observe(&event("alive n2 0.29.4"), NOW);
        let n2 = gate.failing()[0].clone();
        assert_eq!(
            n2,
            Node {
                identity: "n2".into(),
                component: "server".into(),
                version: "0.29.4".into(),
                last_seen: NOW - 10,
                state: NodeState::Up,
            }
        );
        // A time to come, or none, is now.
        for (identity, timestamp) in [("n3", NOW + 3600), ("n4", 0)] {
            let event = Event::builder(EventType::Alive)
                .identity(identity)
                .component("server")
                .version("1")
                .timestamp(timestamp)
                .build()
                .unwrap();
            gate.observe(&event.into(), NOW);
        }
        let seen: Vec<i64> = gate.nodes().iter().map(|n| n.last_seen).collect();
        assert_eq!(seen, [NOW - 10, NOW, NOW]);
    }

    #[test]
    fn the_condition_sees_last_seen_and_state() {
        let until = Filter::parse(".last_seen>=1699999995,.state=up").unwrap();
        let mut gate = Gate::new(until, Target::All);
        gate.observe(&event("alive n1 1"), NOW);
        assert_eq!(gate.passing(), 0);
        gate.insert(Node {
            identity: "n2".into(),
            component: "server".into(),
            version: "1".into(),
            last_seen: NOW,
            state: NodeState::Up,
        });
        gate.insert(Node {
            identity: "n3".into(),
            component: "server".into(),
            version: "1".into(),
            last_seen: NOW,
            state: NodeState::Lost,
        });
        assert_eq!(names(gate.passed()), ["n2/server"]);
        assert_eq!(gate.to_string(), "1/3 nodes pass");
    }

    #[test]
    fn keys_past_the_cap_are_refused() {
        let mut gate = Gate::new(Filter::default(), Target::All).max_keys(2);
        for line in ["alive n1 1", "alive n2 1", "alive n3 1", "alive n1 2"] {
            gate.observe(&event(line), NOW);
        }
        assert_eq!(gate.known(), 2);
        assert_eq!(gate.refused(), 1);
        assert_eq!(gate.nodes()[0].version, "2");
    }

    #[test]
    fn fractions_are_exact() {
        let f = |s: &str| s.parse::<Fraction>();
        assert_eq!(f("0.97").unwrap().of(100), 97);
        assert_eq!(f("0.95").unwrap().of(100), 95);
        assert_eq!(f("0.95").unwrap().of(101), 96);
        assert_eq!(f("1").unwrap().of(7), 7);
        assert_eq!(f("1.000").unwrap().of(7), 7);
        assert_eq!(f(".5").unwrap().of(3), 2);
        assert_eq!(f("0.000000001").unwrap().of(1), 1);
        assert_eq!(f("0.970").unwrap().to_string(), "0.97");
        assert_eq!(f("1.0").unwrap().to_string(), "1");
        for bad in [
            "",
            ".",
            "0",
            "0.0",
            "1.01",
            "2",
            "-0.5",
            "0.5x",
            "0.1234567891",
            "1e-3",
        ] {
            assert_eq!(
                f(bad),
                Err(format!(
                    "invalid fraction '{bad}' (expected a decimal above 0 and at most 1, e.g. 0.95)"
                )),
                "{bad}"
            );
        }
        assert_eq!(Target::Fraction(f("0.97").unwrap()).needed(0), 1);
        assert_eq!(Target::All.needed(0), 1);
        assert_eq!(Target::Count(0).needed(5), 0);
    }

    #[test]
    fn progress_reads_as_counts() {
        let mut gate = Gate::new(
            Filter::parse(".version>=0.30.0").unwrap(),
            Target::Fraction("0.5".parse().unwrap()),
        )
        .key_by(KeyBy::IdentityComponent);
        for line in ["alive n1 0.30.0", "alive n2 0.29.0", "alive n3 0.29.0"] {
            gate.observe(&event(line), NOW);
        }
        assert_eq!(
            gate.to_string(),
            "1/3 components on nodes pass, 2 needed (0.5)"
        );
        let gate = Gate::new(Filter::default(), Target::Count(3)).key_by(KeyBy::Component);
        assert_eq!(gate.to_string(), "0/3 components pass");
    }
}
