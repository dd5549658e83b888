//! The tally: events in, fleet state and metrics out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lifecycle_core::{AnyEvent, Event, EventKind, MachineEvent};
use tracing::warn;

use crate::feed::{DEFAULT_FEED_BUDGET, Feed, FeedSubscription};
use crate::fleet::{Change, DEFAULT_MAX_COMPONENTS, DEFAULT_MAX_LOST, DEFAULT_MAX_VERSIONS, Fleet};
use crate::health::{Health, Readiness};
use crate::metrics::Metrics;
use crate::refusal::Refusal;
use lifecycle_tally_api::{ComponentCount, LostCount, Status};

/// Choria's default: a node not heard from for 80 minutes has gone.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(80 * 60);

/// How long a lost node (expired without a shutdown) is kept by default: a day, time enough
/// for someone to look for it.
pub const DEFAULT_LOST_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// How often a running tally writes its snapshot by default.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The largest snapshot a tally reads by default: a million nodes take about 30 MB.
pub const DEFAULT_SNAPSHOT_MAX_SIZE: u64 = 1 << 30;

/// Nodes expired per lock of the fleet, so a mass expiry never stalls ingest for long.
const EXPIRY_BATCH: usize = 10_000;

/// At most one warning about refused events per this long, with the totals since the last:
/// a flood of bad events is not a flood of log lines.
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// The current unix time in seconds; tests give their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(lifecycle_core::clock::now)
}

/// Settings of a [`Tally`].
#[derive(Clone)]
pub struct TallyOptions {
    /// Components to count; empty means every component.
    pub components: BTreeSet<String>,
    /// Nodes not seen for this long expire: those that did not say they shut down are
    /// lost. A version whose last node left reads 0 for this long, then its series goes.
    pub max_age: Duration,
    /// Lost nodes are kept this long after they expired, then forgotten.
    pub lost_retention: Duration,
    /// Most lost nodes kept; past it, those lost longest ago are forgotten first. 0 keeps
    /// none.
    pub max_lost: usize,
    /// Most components tracked (at most [`MAX_NAMES`](crate::MAX_NAMES)); events of more are
    /// refused. Components are kept for good, as their counters are.
    pub max_components: usize,
    /// Most versions one component tracks at once (at most [`MAX_NAMES`](crate::MAX_NAMES));
    /// events that would make more are refused. A version counts while a node, up or lost,
    /// runs it and for `max_age` after its last node left (while it reads 0), then is
    /// forgotten.
    pub max_versions: usize,
    /// Bytes of events (as JSON) the live feed holds for one client that reads slower than
    /// they come; past it the client's held events are dropped and it is told how many it
    /// missed.
    pub feed_budget: usize,
    /// The name this tally's snapshot is kept under in the object store
    /// [`SNAPSHOT_BUCKET`](crate::SNAPSHOT_BUCKET); `None` keeps none. Tallies counting the
    /// same components may share one (a leader and its standbys do); others each need their
    /// own.
    pub snapshot: Option<String>,
    /// How often a running tally writes its snapshot (the leader, with an election).
    pub snapshot_interval: Duration,
    /// The largest snapshot read; a larger one is ignored.
    pub snapshot_max_size: u64,
    /// Where time comes from.
    pub clock: Clock,
}

impl Default for TallyOptions {
    fn default() -> Self {
        TallyOptions {
            components: BTreeSet::new(),
            max_age: DEFAULT_MAX_AGE,
            lost_retention: DEFAULT_LOST_RETENTION,
            max_lost: DEFAULT_MAX_LOST,
            max_components: DEFAULT_MAX_COMPONENTS,
            max_versions: DEFAULT_MAX_VERSIONS,
            feed_budget: DEFAULT_FEED_BUDGET,
            snapshot: None,
            snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
            snapshot_max_size: DEFAULT_SNAPSHOT_MAX_SIZE,
            clock: system_clock(),
        }
    }
}

impl std::fmt::Debug for TallyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TallyOptions")
            .field("components", &self.components)
            .field("max_age", &self.max_age)
            .field("lost_retention", &self.lost_retention)
            .field("max_lost", &self.max_lost)
            .field("max_components", &self.max_components)
            .field("max_versions", &self.max_versions)
            .field("feed_budget", &self.feed_budget)
            .field("snapshot", &self.snapshot)
            .field("snapshot_interval", &self.snapshot_interval)
            .field("snapshot_max_size", &self.snapshot_max_size)
            .finish_non_exhaustive()
    }
}

/// Counts the fleet from its events. Cheap to clone: clones share the state.
#[derive(Clone, Debug)]
pub struct Tally {
    fleet: Arc<Mutex<Fleet>>,
    metrics: Arc<Metrics>,
    options: Arc<TallyOptions>,
    pub(crate) health: Arc<Health>,
    /// The clock's latest reading: a receipt at or before it needs no new one.
    latest_now: Arc<AtomicI64>,
    /// The last `CHORIA_EVENTS` sequence counted (0: none): a new ingest goes on after it.
    pub(crate) last_sequence: Arc<AtomicU64>,
    /// The live feed of counted events.
    pub(crate) feed: Feed,
    refusals: Arc<Mutex<RefusalLog>>,
}

/// Refused events since the last warning about them.
#[derive(Debug, Default)]
struct RefusalLog {
    last_warning: Option<Instant>,
    since: [u64; Refusal::ALL.len()],
}

impl Tally {
    /// An empty tally, not yet ready: [`Tally::run`] and [`Tally::ingest`] make it ready
    /// once connected and caught up; code that feeds a tally itself calls
    /// [`Tally::set_ready`].
    pub fn new(options: TallyOptions) -> Tally {
        let fleet = Arc::new(Mutex::new(
            Fleet::with_caps(options.max_components, options.max_versions)
                .with_max_lost(options.max_lost),
        ));
        let feed = Feed::new(options.feed_budget);
        let health = Arc::new(Health::default());
        Tally {
            metrics: Metrics::new(fleet.clone(), feed.stats(), health.clone()),
            fleet,
            options: Arc::new(options),
            health,
            latest_now: Arc::new(AtomicI64::new(i64::MIN)),
            last_sequence: Arc::default(),
            feed,
            refusals: Arc::default(),
        }
    }

    /// Whether the counts are current: connected to the broker (when fed from one) and
    /// caught up with it.
    pub fn is_ready(&self) -> bool {
        self.readiness().is_ready()
    }

    /// Ready, or why not: `/readyz` answers with it.
    pub fn readiness(&self) -> Readiness {
        self.health.readiness()
    }

    /// Whether the broker connection is up.
    pub fn is_connected(&self) -> bool {
        self.health.is_connected()
    }

    /// Marks the counts caught up or not; a tally fed in process, with no broker, is ready
    /// once they are.
    pub fn set_ready(&self, ready: bool) {
        self.health.set_caught_up(ready);
    }

    /// Whether the counts have been current once. Until then they are partial (a warm start
    /// replays, or the broker was never reached) and the API does not serve them.
    pub fn is_warm(&self) -> bool {
        self.health.is_warm()
    }

    /// The metrics, to register and to mark active.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The settings.
    pub fn options(&self) -> &TallyOptions {
        &self.options
    }

    /// The fleet, locked: hold it briefly.
    pub fn fleet(&self) -> MutexGuard<'_, Fleet> {
        self.fleet.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Nodes per component and version, as `/api/v1/components` serves them: the component
    /// with the most nodes first ([`ComponentCount::biggest_first`]), so junk components
    /// never push the fleet out of sight. A component whose nodes have all gone stays, with
    /// no nodes.
    pub fn component_counts(&self) -> Vec<ComponentCount> {
        let fleet = self.fleet();
        let per_component: Vec<(String, BTreeMap<String, u64>)> = fleet
            .components()
            .map(|(component, versions)| {
                let versions = versions
                    .into_iter()
                    .map(|(v, n)| (v.to_owned(), n))
                    .collect();
                (component.to_owned(), versions)
            })
            .collect();
        drop(fleet);
        ComponentCount::list(per_component)
    }

    /// This tally's state, as `/api/v1/status` serves it.
    pub fn status(&self) -> Status {
        let readiness = self.readiness();
        let (up, mut lost) = {
            let fleet = self.fleet();
            let lost: Vec<LostCount> = fleet
                .lost_per_component()
                .map(|(component, lost)| LostCount {
                    component: component.to_owned(),
                    lost,
                })
                .collect();
            (fleet.len() as u64, lost)
        };
        lost.sort_by(|a, b| {
            b.lost
                .cmp(&a.lost)
                .then_with(|| a.component.cmp(&b.component))
        });
        Status {
            leader: self.metrics.is_active(),
            broker: self.health.has_broker(),
            connected: self.is_connected(),
            ready: readiness.is_ready(),
            reason: readiness.to_string(),
            warm: self.is_warm(),
            refused: self.metrics.refused_total(),
            expired: self.metrics.expired_total(),
            up,
            lost,
            now: (self.options.clock)(),
        }
    }

    /// Whether events of `component` are counted.
    pub fn counts(&self, component: &str) -> bool {
        self.options.components.is_empty() || self.options.components.contains(component)
    }

    /// Listens to the live feed: every event counted from now on, after it was counted
    /// (so the fleet already shows it). While nobody listens, the feed costs nothing.
    pub fn subscribe_feed(&self) -> FeedSubscription {
        self.feed.subscribe()
    }

    /// How many listen to the live feed.
    pub fn feed_listeners(&self) -> usize {
        self.feed.listeners()
    }

    /// Bytes of events the live feed holds for listeners that have not read them yet: at
    /// most [`TallyOptions::feed_budget`] per listener.
    pub fn feed_buffered_bytes(&self) -> usize {
        self.feed.stats().buffered_bytes()
    }

    /// Events the live feed dropped, over all listeners, because they fell behind.
    pub fn feed_dropped(&self) -> u64 {
        self.feed.stats().dropped()
    }

    /// Applies one event received now (by the tally's clock), then hands it to the live
    /// feed if anyone listens. Events of components not counted, and those refused
    /// ([`Refusal`]), are not in the feed.
    pub fn observe(&self, event: &AnyEvent) {
        // No receipt can be later than now: the clock is read once.
        self.observe_received(event, i64::MAX);
    }

    /// Applies one event the broker received at `received` (unix seconds: the time a
    /// JetStream stream stored it), then hands it to the live feed if anyone listens. The
    /// receipt is what the node's liveness is judged by; one after the tally's clock (a
    /// broker's clock ahead of it) counts as now.
    pub fn observe_received(&self, event: &AnyEvent, received: i64) {
        if self.apply(event, received) && self.feed.has_listeners() {
            self.feed.send(event);
        }
    }

    /// Applies one event; false when it was not counted.
    fn apply(&self, event: &AnyEvent, received: i64) -> bool {
        let start = Instant::now();
        match event {
            AnyEvent::Lifecycle(event) => {
                let component = event.component();
                // An event naming no component is refused below, whatever is counted.
                if !component.is_empty() && !self.counts(component) {
                    return false;
                }
                let received = self.no_later_than_now(received);
                let change = self.fleet().observe(event, received);
                if let Change::Refused(refusal) = change {
                    self.refused(refusal, event);
                    return false;
                }
                if let EventKind::Governor {
                    governor,
                    event_type,
                    ..
                } = event.kind()
                {
                    self.metrics
                        .governor(component, governor, event_type.as_str());
                }
                self.metrics
                    .event(component, event.event_type(), start.elapsed());
            }
            AnyEvent::Machine(machine) => match &**machine {
                MachineEvent::Transition(t) => self.metrics.transition(
                    &t.machine,
                    &t.version,
                    &t.transition,
                    &t.from_state,
                    &t.to_state,
                ),
                MachineEvent::WatcherState(w) => {
                    if let Some(exec) = &w.exec {
                        // Only runs say anything about success; "unknown" and "skipped" do not.
                        let success = match exec.previous_outcome.as_str() {
                            "success" => true,
                            "error" => false,
                            _ => return true,
                        };
                        let run = Duration::from_nanos(exec.previous_run_time.max(0) as u64);
                        self.metrics
                            .exec_watcher(&w.machine, &w.version, &w.name, success, run);
                    }
                }
            },
        }
        true
    }

    /// Counts a refused event, and warns about refusals at most once per
    /// [`REFUSAL_WARNING_INTERVAL`], with how many of each since the last warning.
    fn refused(&self, refusal: Refusal, event: &Event) {
        self.metrics.refused(refusal);
        let mut log = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        log.since[refusal.index()] += 1;
        if log
            .last_warning
            .is_some_and(|last| last.elapsed() < REFUSAL_WARNING_INTERVAL)
        {
            return;
        }
        let totals: Vec<String> = Refusal::ALL
            .iter()
            .zip(&log.since)
            .filter(|&(_, &n)| n > 0)
            .map(|(reason, n)| format!("{reason}={n}"))
            .collect();
        // Names come from whoever published: quoted and cut short, never raw.
        let short = |name: &str| name.chars().take(64).collect::<String>();
        warn!(
            refused = %totals.join(" "),
            latest_component = ?short(event.component()),
            latest_identity = ?short(event.identity()),
            "events refused since the last warning (counted in refused_total by reason)"
        );
        log.since = [0; Refusal::ALL.len()];
        log.last_warning = Some(Instant::now());
    }

    /// `received`, or now when it is later (by the tally's clock). A stored event's receipt
    /// is in the past, so the clock is read only once a receipt passes its last reading.
    fn no_later_than_now(&self, received: i64) -> i64 {
        if received <= self.latest_now.load(Ordering::Relaxed) {
            return received;
        }
        let now = (self.options.clock)();
        self.latest_now.fetch_max(now, Ordering::Relaxed);
        received.min(now)
    }

    /// Expires nodes not seen for `max_age` (they are lost), forgets those lost for longer
    /// than `lost_retention` and the versions whose last node left more than `max_age` ago,
    /// a batch per lock of the fleet; returns how many nodes expired.
    pub fn expire(&self) -> u64 {
        let start = Instant::now();
        let now = (self.options.clock)();
        let max_age = i64::try_from(self.options.max_age.as_secs()).unwrap_or(i64::MAX);
        let retention = i64::try_from(self.options.lost_retention.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(max_age);
        let mut total = 0;
        loop {
            let mut expired: BTreeMap<String, u64> = BTreeMap::new();
            let more = self.fleet().expire(cutoff, now, EXPIRY_BATCH, |component| {
                match expired.get_mut(component) {
                    Some(count) => *count += 1,
                    None => {
                        expired.insert(component.to_owned(), 1);
                    }
                }
            });
            for (component, count) in expired {
                self.metrics.expired(&component, count);
                total += count;
            }
            if !more {
                break;
            }
        }
        while self
            .fleet()
            .forget_lost(cutoff.saturating_sub(retention), EXPIRY_BATCH)
        {}
        self.fleet().retire(cutoff);
        self.metrics.maintenance(start.elapsed());
        total
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_core::{MachineEvent, Transition};
    use lifecycle_testsupport::docker_check;

    use super::*;

    fn metrics_text(tally: &Tally) -> String {
        let registry = tally.metrics().register("t");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        lifecycle_http::prometheus_text(&text)
    }

    fn exec(outcome: &str, nanos: i64) -> AnyEvent {
        docker_check("n1", "i", 1, outcome, nanos)
    }

    #[test]
    fn machine_events_are_counted_by_machine_version_and_watcher() {
        let tally = Tally::new(TallyOptions::default());
        tally.metrics().set_active(true);
        let transition = AnyEvent::from(MachineEvent::Transition(Transition::new(
            "n1", "i", "1.0.0", 1, "Docker", "deploy", "absent", "running",
        )));
        tally.observe(&transition);
        tally.observe(&transition);
        tally.observe(&exec("success", 2_000_000_000));
        tally.observe(&exec("error", 100_000_000));
        tally.observe(&exec("unknown", 0));
        let text = metrics_text(&tally);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_owned()
        };
        assert_eq!(
            line("t_machine_transition_total{"),
            "t_machine_transition_total{machine=\"Docker\",version=\"1.0.0\",transition=\"deploy\",from=\"absent\",to=\"running\",active=\"1\"} 2"
        );
        assert_eq!(
            line("t_exec_watcher_success_total{"),
            "t_exec_watcher_success_total{machine=\"Docker\",version=\"1.0.0\",watcher=\"check\",active=\"1\"} 1"
        );
        assert_eq!(
            line("t_exec_watcher_failures_total{"),
            "t_exec_watcher_failures_total{machine=\"Docker\",version=\"1.0.0\",watcher=\"check\",active=\"1\"} 1"
        );
        assert_eq!(
            line("t_exec_watcher_runtime_count{"),
            "t_exec_watcher_runtime_count{machine=\"Docker\",version=\"1.0.0\",watcher=\"check\",active=\"1\"} 2"
        );
        assert_eq!(
            line("t_exec_watcher_runtime_sum{"),
            "t_exec_watcher_runtime_sum{machine=\"Docker\",version=\"1.0.0\",watcher=\"check\",active=\"1\"} 2.1"
        );
        // Machine events are not nodes.
        assert!(tally.fleet().is_empty());
    }

    fn alive(identity: &str, component: &str, version: &str) -> AnyEvent {
        let json = format!(
            r#"{{"protocol":"io.choria.lifecycle.v1.alive","id":"00000000-0000-4000-8000-000000000000","identity":"{identity}","component":"{component}","timestamp":100,"version":"{version}"}}"#
        );
        lifecycle_core::parse(json.as_bytes())
            .unwrap()
            .event()
            .clone()
    }

    #[test]
    fn refused_events_are_counted_by_reason_and_never_nodes() {
        let tally = Tally::new(TallyOptions {
            max_components: 2,
            max_versions: 1,
            ..Default::default()
        });
        tally.metrics().set_active(true);
        let feed = tally.subscribe_feed();
        for i in 0..100 {
            tally.observe(&alive("", "", "1"));
            tally.observe(&alive(&format!("n{i}"), "", "1"));
            tally.observe(&alive("", "server", "1"));
            tally.observe(&alive(&format!("n{i}"), &format!("junk{i}"), "1"));
            tally.observe(&alive(&format!("n{i}"), "server", &format!("{i}")));
        }
        // server (one version, 0, on one node) and junk0, on one node.
        assert_eq!(tally.fleet().len(), 2);
        let text = metrics_text(&tally);
        let refused: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("t_refused_total{"))
            .collect();
        assert_eq!(
            refused,
            [
                "t_refused_total{reason=\"no_identity\",active=\"1\"} 100",
                "t_refused_total{reason=\"no_component\",active=\"1\"} 200",
                "t_refused_total{reason=\"name_too_long\",active=\"1\"} 0",
                "t_refused_total{reason=\"too_many_components\",active=\"1\"} 99",
                "t_refused_total{reason=\"too_many_versions\",active=\"1\"} 99",
            ]
        );
        let versions: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("t_versions{"))
            .collect();
        assert_eq!(
            versions,
            [
                "t_versions{component=\"junk0\",version=\"1\",active=\"1\"} 1",
                "t_versions{component=\"server\",version=\"0\",active=\"1\"} 1",
            ]
        );
        // Refused events are not in the feed: only the two counted ones are.
        let counted = [alive("n0", "junk0", "1"), alive("n0", "server", "0")];
        let bytes: usize = counted.iter().map(|e| e.to_json().len()).sum();
        assert_eq!(tally.feed_buffered_bytes(), bytes);
        drop(feed);
    }

    #[test]
    fn components_not_asked_for_are_ignored() {
        let tally = Tally::new(TallyOptions {
            components: ["server".to_owned()].into(),
            ..Default::default()
        });
        for component in ["server", "broker"] {
            let event = lifecycle_core::Event::builder(lifecycle_core::EventType::Alive)
                .identity("n1")
                .component(component)
                .version("1")
                .build()
                .unwrap();
            tally.observe(&AnyEvent::Lifecycle(event));
        }
        let components: Vec<String> = tally
            .fleet()
            .components()
            .map(|(c, _)| c.to_owned())
            .collect();
        assert_eq!(components, ["server"]);
        assert!(!metrics_text(&tally).contains("component=\"broker\""));
    }
}
