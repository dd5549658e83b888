//! The tally: events in, fleet state and metrics out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lifecycle_core::{AnyEvent, EventKind, MachineEvent};

use crate::feed::{FEED_CAPACITY, Feed, FeedSubscription};
use crate::fleet::{Change, Fleet};
use crate::http::ComponentCount;
use crate::metrics::Metrics;

/// Choria's default: a node not heard from for 80 minutes has gone.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(80 * 60);

/// Nodes expired per lock of the fleet, so a mass expiry never stalls ingest for long.
const EXPIRY_BATCH: usize = 10_000;

/// The current unix time in seconds; tests give their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// Settings of a [`Tally`].
#[derive(Clone)]
pub struct TallyOptions {
    /// Components to count; empty means every component.
    pub components: BTreeSet<String>,
    /// Nodes not seen for this long expire.
    pub max_age: Duration,
    /// Where time comes from.
    pub clock: Clock,
}

impl Default for TallyOptions {
    fn default() -> Self {
        TallyOptions {
            components: BTreeSet::new(),
            max_age: DEFAULT_MAX_AGE,
            clock: system_clock(),
        }
    }
}

impl std::fmt::Debug for TallyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TallyOptions")
            .field("components", &self.components)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// Counts the fleet from its events. Cheap to clone: clones share the state.
#[derive(Clone, Debug)]
pub struct Tally {
    fleet: Arc<Mutex<Fleet>>,
    metrics: Arc<Metrics>,
    options: Arc<TallyOptions>,
    ready: Arc<AtomicBool>,
    /// The clock's latest reading: an event stamped at or before it needs no new one.
    latest_now: Arc<AtomicI64>,
    /// The live feed of counted events.
    pub(crate) feed: Feed,
}

impl Tally {
    /// An empty tally, not yet ready: [`Tally::ingest`] marks it ready once it has caught
    /// up; code that feeds a tally itself calls [`Tally::set_ready`].
    pub fn new(options: TallyOptions) -> Tally {
        let fleet = Arc::new(Mutex::new(Fleet::new()));
        Tally {
            metrics: Metrics::new(fleet.clone()),
            fleet,
            options: Arc::new(options),
            ready: Arc::new(AtomicBool::new(false)),
            latest_now: Arc::new(AtomicI64::new(i64::MIN)),
            feed: Feed::new(FEED_CAPACITY),
        }
    }

    /// Whether the counts are current: false while a warm start is still replaying.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Marks the counts current or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
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

    /// Nodes per component and version, components in name order, as `/api/v1/components`
    /// serves them. A component whose nodes have all gone stays, with no nodes.
    pub fn component_counts(&self) -> Vec<ComponentCount> {
        let fleet = self.fleet();
        let mut counts: Vec<ComponentCount> = fleet
            .components()
            .map(|(component, versions)| ComponentCount {
                component: component.to_owned(),
                nodes: versions.iter().map(|(_, n)| n).sum(),
                versions: versions
                    .into_iter()
                    .map(|(v, n)| (v.to_owned(), n))
                    .collect(),
            })
            .collect();
        counts.sort_by(|a, b| a.component.cmp(&b.component));
        counts
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

    /// Applies one event, then hands it to the live feed if anyone listens. Events of
    /// components not counted, and those refused for too many names, are not in the feed.
    pub fn observe(&self, event: &AnyEvent) {
        if self.apply(event) && self.feed.has_listeners() {
            self.feed.send(event);
        }
    }

    /// Applies one event; false when it was not counted.
    fn apply(&self, event: &AnyEvent) -> bool {
        let start = Instant::now();
        match event {
            AnyEvent::Lifecycle(event) => {
                let component = event.component();
                if !self.counts(component) {
                    return false;
                }
                let now = self.now_for(event.timestamp());
                if let Change::TooManyNames = self.fleet().observe(event, now) {
                    self.metrics.process_error(component);
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

    /// The current time for an event stamped `timestamp`. Reading the clock costs more
    /// than the rest of processing an event, and an event stamped no later than the last
    /// reading is placed by its own stamp anyway, so the clock is read only past it.
    fn now_for(&self, timestamp: i64) -> i64 {
        let latest = self.latest_now.load(Ordering::Relaxed);
        if timestamp > 0 && timestamp <= latest {
            return latest;
        }
        let now = (self.options.clock)();
        self.latest_now.fetch_max(now, Ordering::Relaxed);
        now
    }

    /// Expires nodes not seen for `max_age`, a batch per lock of the fleet; returns how many.
    pub fn expire(&self) -> u64 {
        let start = Instant::now();
        let now = (self.options.clock)();
        let cutoff = now.saturating_sub(self.options.max_age.as_secs() as i64);
        let mut total = 0;
        loop {
            let mut expired: BTreeMap<String, u64> = BTreeMap::new();
            let more = self.fleet().expire(cutoff, EXPIRY_BATCH, |component| {
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
        self.metrics.maintenance(start.elapsed());
        total
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_core::{ExecState, MachineEvent, Transition, WatcherState};

    use super::*;

    fn metrics_text(tally: &Tally) -> String {
        let registry = tally.metrics().register("t");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        crate::prometheus_text(&text)
    }

    fn exec(outcome: &str, nanos: i64) -> AnyEvent {
        AnyEvent::from(MachineEvent::WatcherState(WatcherState::exec(
            "n1",
            "i",
            "1.0.0",
            1,
            "Docker",
            "check",
            ExecState {
                command: "/bin/true".into(),
                previous_outcome: outcome.into(),
                previous_run_time: nanos,
            },
        )))
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
        assert!(!metrics_text(&tally).contains("broker"));
    }
}
