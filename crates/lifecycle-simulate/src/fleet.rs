//! The simulated fleet: which node sends what, when, and what the fleet looks like now.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use lifecycle_core::{Event, EventType};

use crate::error::SpecError;
use crate::spec::{FleetSpec, RESTART_DOWNTIME};

/// What the fleet does next.
#[derive(Debug)]
pub enum Step {
    /// Send this event now.
    Send(Event),
    /// Nothing is due before this time since the start.
    Wait(Duration),
    /// The fleet has shut down: nothing more will happen.
    Done,
}

/// One component on one node.
#[derive(Debug, Clone, Copy)]
struct Member {
    /// Index into [`Simulation::versions`].
    version: u16,
    up: bool,
}

/// A fleet of nodes and the events they send, driven by the time since the simulation
/// started. It starts with a startup storm (every component on every node starts, as fast as
/// the events can be sent); then alives go out at the interval, spread evenly over it,
/// while restarts and a rolling upgrade run at their rates. [`Simulation::end`] shuts the
/// fleet down.
///
/// It always knows what the fleet is, so a tally fed its events can be checked against
/// [`Simulation::counts`].
#[derive(Debug)]
pub struct Simulation {
    spec: FleetSpec,
    versions: Vec<String>,
    /// Member `k` is component `k % components` of node `k / components`.
    members: Vec<Member>,
    /// Members up, per component and version index.
    up: Vec<Vec<u64>>,
    upgrade_to: Option<u16>,
    rng: fastrand::Rng,
    started: usize,
    /// When the startup storm ended: the clock of alives, restarts and the upgrade.
    steady_since: Option<Duration>,
    alives: u64,
    restarts: u64,
    upgraded: usize,
    /// Restarted members waiting to start again, in the order they are due.
    restarting: VecDeque<(Duration, usize)>,
    /// Once ending, the next member to shut down.
    ending: Option<usize>,
}

/// The kinds of due work, in the order they go first when due at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Restarted,
    Upgrade,
    Restart,
    Alive,
}

impl Simulation {
    /// A fleet as `spec` describes, not started yet.
    pub fn new(spec: FleetSpec) -> Result<Simulation, SpecError> {
        spec.validate()?;
        let mut versions: Vec<String> = Vec::new();
        let mut share_of = Vec::new();
        for share in &spec.versions {
            let index = intern(&mut versions, &share.version);
            share_of.push((index, u64::from(share.weight)));
        }
        let upgrade_to = spec.upgrade.as_ref().map(|u| intern(&mut versions, &u.to));
        let components = spec.components.len();
        let total: u64 = share_of.iter().map(|(_, w)| w).sum();
        let mut members = Vec::with_capacity(spec.nodes * components);
        for node in 0..spec.nodes {
            // Node `node` takes the share its position falls in: exact proportions.
            let position = node as u128 * u128::from(total) / spec.nodes as u128;
            let mut cumulative = 0u128;
            let version = share_of
                .iter()
                .find(|(_, weight)| {
                    cumulative += u128::from(*weight);
                    position < cumulative
                })
                .map_or(0, |(index, _)| *index);
            members.extend((0..components).map(|_| Member { version, up: false }));
        }
        Ok(Simulation {
            up: vec![vec![0; versions.len()]; components],
            rng: fastrand::Rng::with_seed(spec.seed),
            spec,
            versions,
            members,
            upgrade_to,
            started: 0,
            steady_since: None,
            alives: 0,
            restarts: 0,
            upgraded: 0,
            restarting: VecDeque::new(),
            ending: None,
        })
    }

    /// The fleet's description.
    pub fn spec(&self) -> &FleetSpec {
        &self.spec
    }

    /// Nodes up per version of each component of the fleet, one with no node up left with
    /// none: what a tally fed all of this fleet's events counts (`lifecycle_tally`'s
    /// `ComponentCount::list` orders it as the tally's API does).
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        (self.spec.components.iter().zip(&self.up))
            .map(|(component, per_version)| {
                let versions = per_version
                    .iter()
                    .zip(&self.versions)
                    .filter(|(n, _)| **n > 0)
                    .map(|(n, v)| (v.clone(), *n))
                    .collect();
                (component.clone(), versions)
            })
            .collect()
    }

    /// Components up across the fleet.
    pub fn up(&self) -> u64 {
        self.up.iter().flatten().sum()
    }

    /// Components not yet on the upgrade's version (0 without an upgrade).
    pub fn to_upgrade(&self) -> usize {
        match self.upgrade_to {
            Some(to) => self.members.iter().filter(|m| m.version != to).count(),
            None => 0,
        }
    }

    /// Shuts the fleet down: from now on every component up sends its shutdown, then
    /// [`Step::Done`].
    pub fn end(&mut self) {
        self.ending.get_or_insert(0);
    }

    /// The next thing the fleet does, `now` after the start.
    pub fn next(&mut self, now: Duration) -> Step {
        if let Some(cursor) = self.ending {
            return self.next_shutdown(cursor);
        }
        if self.started < self.members.len() {
            let member = self.started;
            self.started += 1;
            if self.started == self.members.len() {
                self.steady_since = Some(now);
            }
            return Step::Send(self.start(member));
        }
        let since = self.steady_since.unwrap_or(now);
        loop {
            let (at, due) = self.earliest(since);
            if at > now {
                return Step::Wait(at);
            }
            if let Some(event) = self.handle(due, at) {
                return Step::Send(event);
            }
        }
    }

    /// The work due first, and when: alives are always due some time.
    fn earliest(&self, since: Duration) -> (Duration, Due) {
        let members = self.members.len() as u128;
        // Alive `n` is due `n + 1` slots after the storm: the fleet's alives spread over the interval.
        let slot = u128::from(self.alives) + 1;
        let alive =
            since.saturating_add(nanos(self.spec.alive_interval.as_nanos() * slot / members));
        let mut earliest = (alive, Due::Alive);
        let mut consider = |at: Duration, due: Due| {
            if (at, due) < earliest {
                earliest = (at, due);
            }
        };
        if let Some(&(at, _)) = self.restarting.front() {
            consider(at, Due::Restarted);
        }
        if let Some(upgrade) = &self.spec.upgrade
            && self.upgraded < self.members.len()
        {
            let at = per(self.upgraded as u64 + 1, upgrade.per_second);
            consider(since.saturating_add(at), Due::Upgrade);
        }
        if self.spec.restart_rate > 0.0 {
            let at = per(self.restarts + 1, self.spec.restart_rate);
            consider(since.saturating_add(at), Due::Restart);
        }
        earliest
    }

    /// Does the work due at `at`; some work (an alive of a node that is down, an upgrade of
    /// a node already upgraded) sends nothing.
    fn handle(&mut self, due: Due, at: Duration) -> Option<Event> {
        match due {
            Due::Restarted => {
                let (_, member) = self.restarting.pop_front()?;
                Some(self.start(member))
            }
            Due::Upgrade => {
                let member = self.upgraded;
                self.upgraded += 1;
                self.upgrade(member)
            }
            Due::Restart => {
                self.restarts += 1;
                // A few tries to find a member up; a fleet mostly down restarts less.
                let member = (0..8)
                    .map(|_| self.rng.usize(..self.members.len()))
                    .find(|&m| self.members[m].up)?;
                self.restarting.push_back((at + RESTART_DOWNTIME, member));
                Some(self.stop(member))
            }
            Due::Alive => {
                let member = (self.alives % self.members.len() as u64) as usize;
                self.alives += 1;
                let Member { version, up } = self.members[member];
                up.then(|| self.event(EventType::Alive, member, version))
            }
        }
    }

    fn next_shutdown(&mut self, mut cursor: usize) -> Step {
        while cursor < self.members.len() && !self.members[cursor].up {
            cursor += 1;
        }
        if cursor >= self.members.len() {
            self.ending = Some(cursor);
            self.restarting.clear();
            return Step::Done;
        }
        self.ending = Some(cursor + 1);
        Step::Send(self.stop(cursor))
    }

    fn start(&mut self, member: usize) -> Event {
        let version = self.members[member].version;
        self.members[member].up = true;
        let component = self.component_of(member);
        self.up[component][usize::from(version)] += 1;
        self.event(EventType::Startup, member, version)
    }

    fn stop(&mut self, member: usize) -> Event {
        let version = self.members[member].version;
        self.members[member].up = false;
        let component = self.component_of(member);
        self.up[component][usize::from(version)] -= 1;
        self.event(EventType::Shutdown, member, version)
    }

    fn upgrade(&mut self, member: usize) -> Option<Event> {
        let to = self.upgrade_to?;
        let Member { version, up } = self.members[member];
        if version == to {
            return None;
        }
        self.members[member].version = to;
        // A node that is down comes back on the new version, with a startup that says so.
        if !up {
            return None;
        }
        let component = self.component_of(member);
        self.up[component][usize::from(version)] -= 1;
        self.up[component][usize::from(to)] += 1;
        let event = Event::builder(EventType::Upgraded)
            .identity(FleetSpec::identity(member / self.spec.components.len()))
            .component(&self.spec.components[component])
            .version(&self.versions[usize::from(version)])
            .new_version(&self.versions[usize::from(to)]);
        Some(built(event.build()))
    }

    fn event(&self, event_type: EventType, member: usize, version: u16) -> Event {
        let mut builder = Event::builder(event_type)
            .identity(FleetSpec::identity(member / self.spec.components.len()))
            .component(&self.spec.components[self.component_of(member)]);
        if event_type != EventType::Shutdown {
            builder = builder.version(&self.versions[usize::from(version)]);
        }
        built(builder.build())
    }

    fn component_of(&self, member: usize) -> usize {
        member % self.spec.components.len()
    }
}

/// Every event the simulator builds has what its type needs: the spec was validated to have
/// non-empty components and versions.
fn built(event: Result<Event, lifecycle_core::Error>) -> Event {
    event.expect("a validated fleet builds complete events")
}

fn intern(versions: &mut Vec<String>, version: &str) -> u16 {
    let index = match versions.iter().position(|v| v == version) {
        Some(index) => index,
        None => {
            versions.push(version.to_owned());
            versions.len() - 1
        }
    };
    // FleetSpec::validate keeps versions under u16::MAX.
    index as u16
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

/// The time of the `n`th of something happening `rate` times a second.
fn per(n: u64, rate: f64) -> Duration {
    Duration::try_from_secs_f64(n as f64 / rate).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use lifecycle_core::EventKind;

    use super::*;
    use crate::spec::{Upgrade, VersionShare};

    fn spec(nodes: usize) -> FleetSpec {
        FleetSpec {
            nodes,
            components: vec!["server".into(), "broker".into()],
            versions: vec!["0.28.0:30".parse().unwrap(), "0.29.4:70".parse().unwrap()],
            alive_interval: Duration::from_secs(10),
            ..Default::default()
        }
    }

    /// The nodes up per version of `component`.
    fn versions(sim: &Simulation, component: &str) -> BTreeMap<String, u64> {
        sim.counts().remove(component).unwrap()
    }

    fn drain(sim: &mut Simulation, until: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        while let Step::Send(event) = sim.next(until) {
            events.push(event);
        }
        events
    }

    #[test]
    fn the_fleet_starts_with_a_storm_in_the_shares_asked_for() {
        let mut sim = Simulation::new(spec(1000)).unwrap();
        let storm = drain(&mut sim, Duration::ZERO);
        assert_eq!(storm.len(), 2000);
        assert!(storm.iter().all(|e| e.event_type() == EventType::Startup));
        let expected = BTreeMap::from([("0.28.0".to_owned(), 300), ("0.29.4".to_owned(), 700)]);
        assert_eq!(versions(&sim, "server"), expected);
        assert_eq!(versions(&sim, "broker"), expected);
        assert_eq!(storm[0].identity(), "node000001.sim.example.net");
        assert_eq!(storm[1].component(), "broker");
    }

    #[test]
    fn alives_spread_evenly_over_the_interval() {
        let mut sim = Simulation::new(spec(100)).unwrap();
        drain(&mut sim, Duration::ZERO);
        // 200 members over 10 s: one alive every 50 ms, the first at once.
        let first_second = drain(&mut sim, Duration::from_millis(999));
        assert_eq!(first_second.len(), 19);
        assert!(
            first_second
                .iter()
                .all(|e| e.event_type() == EventType::Alive)
        );
        assert_eq!(
            sim.next(Duration::from_millis(999)).wait(),
            Some(Duration::from_secs(1))
        );
        let whole = drain(&mut sim, Duration::from_secs(10));
        let identities: std::collections::BTreeSet<_> = first_second
            .iter()
            .chain(&whole)
            .map(|e| (e.identity().to_owned(), e.component().to_owned()))
            .collect();
        assert_eq!(identities.len(), 200, "every member once per interval");
    }

    #[test]
    fn a_rolling_upgrade_moves_every_node_to_the_new_version() {
        let mut sim = Simulation::new(FleetSpec {
            upgrade: Some(Upgrade {
                to: "0.30.0".into(),
                per_second: 100.0,
            }),
            ..spec(50)
        })
        .unwrap();
        drain(&mut sim, Duration::ZERO);
        assert_eq!(sim.to_upgrade(), 100);
        let events = drain(&mut sim, Duration::from_secs(5));
        let upgrades: Vec<_> = events
            .iter()
            .filter_map(|e| match e.kind() {
                EventKind::Upgraded {
                    version,
                    new_version,
                } => Some((version, new_version)),
                _ => None,
            })
            .collect();
        assert_eq!(upgrades.len(), 100);
        assert!(upgrades.iter().all(|(_, new)| *new == "0.30.0"));
        assert_eq!(sim.to_upgrade(), 0);
        assert_eq!(
            versions(&sim, "server"),
            BTreeMap::from([("0.30.0".to_owned(), 50)])
        );
        // Alives after the upgrade carry the new version.
        let later = drain(&mut sim, Duration::from_secs(20));
        assert!(
            later
                .iter()
                .all(|e| matches!(e.kind(), EventKind::Alive { version } if version == "0.30.0"))
        );
    }

    #[test]
    fn restarts_go_down_and_come_back() {
        let mut sim = Simulation::new(FleetSpec {
            restart_rate: 10.0,
            ..spec(100)
        })
        .unwrap();
        drain(&mut sim, Duration::ZERO);
        let events = drain(&mut sim, Duration::from_secs(1));
        let shutdowns = events
            .iter()
            .filter(|e| e.event_type() == EventType::Shutdown)
            .count();
        assert_eq!(shutdowns, 10);
        assert_eq!(sim.up(), 190);
        let events = drain(&mut sim, Duration::from_secs(3));
        let startups = events
            .iter()
            .filter(|e| e.event_type() == EventType::Startup)
            .count();
        assert_eq!(startups, 10, "those down for the downtime are back");
    }

    #[test]
    fn ending_shuts_every_member_down_once() {
        let mut sim = Simulation::new(FleetSpec {
            restart_rate: 50.0,
            versions: vec![VersionShare {
                version: "1".into(),
                weight: 1,
            }],
            ..spec(20)
        })
        .unwrap();
        drain(&mut sim, Duration::from_secs(1));
        let up = sim.up();
        sim.end();
        let shutdowns = drain(&mut sim, Duration::from_secs(1));
        assert_eq!(shutdowns.len() as u64, up);
        assert!(matches!(sim.next(Duration::from_secs(100)), Step::Done));
        let components: Vec<_> = sim
            .counts()
            .into_iter()
            .map(|(component, versions)| (component, versions.values().sum::<u64>(), versions))
            .collect();
        let gone = BTreeMap::new();
        assert_eq!(
            components,
            [
                ("broker".into(), 0, gone.clone()),
                ("server".into(), 0, gone)
            ]
        );
    }

    impl Step {
        fn wait(&self) -> Option<Duration> {
            match self {
                Step::Wait(at) => Some(*at),
                _ => None,
            }
        }
    }
}
