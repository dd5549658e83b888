//! The tally's Prometheus metrics, with Choria's names and labels.
//!
//! Every series carries `active` ("1" on the leader), and leadership can change at any time,
//! so the metrics are kept here by label values and written out at each scrape with the
//! current `active`: a change of leader relabels every series without resetting any count.
//! The versions and lost nodes gauges are not kept at all: they are read from the
//! [`Fleet`]'s counts at each scrape (a walk of its components and versions, never of its
//! nodes); a version whose last node left reads 0 until the fleet retires it. The leader and
//! connected gauges are read from the tally's state at each scrape too.
//!
//! Every label value that comes from a publisher is bounded: components and versions by the
//! fleet's caps (an event past them is counted in `refused_total` by reason, a fixed set),
//! the other families by [`MAX_SERIES`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hashbrown::HashMap;
use hashbrown::hash_map::EntryRef;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use lifecycle_core::EventType;

use crate::feed::FeedStats;
use crate::fleet::Fleet;
use crate::health::Health;
use crate::refusal::Refusal;

/// The metric name prefix Choria's tally uses.
pub const DEFAULT_PREFIX: &str = "lifecycle_tally";

/// Most series one family keeps; labels from a hostile or broken publisher (a new component
/// name per event, say) then cannot grow memory without bound.
pub const MAX_SERIES: usize = 10_000;

/// Histogram buckets in seconds, for processing and maintenance times.
const TIME_BUCKETS: [f64; 12] = [
    1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0,
];

/// Histogram buckets in seconds, for exec watcher run times.
const RUN_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, Clone)]
struct Histogram {
    buckets: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: &'static [f64]) -> Self {
        Histogram {
            buckets,
            counts: vec![0; buckets.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
        if let Some(i) = self.buckets.iter().position(|&b| value <= b) {
            self.counts[i] += 1;
        }
    }

    /// Counts per bucket, with +Inf last; the encoder accumulates them.
    fn buckets(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
            .collect();
        let bounded: u64 = self.counts.iter().sum();
        out.push((f64::INFINITY, self.count - bounded));
        out
    }
}

/// A series' label values, owned.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LabelValues<const N: usize>([Box<str>; N]);

/// Label values to look a series up by, borrowed: counting an event allocates nothing once
/// its series exists. Hashes as [`LabelValues`] does, since `Box<str>` hashes as `str`.
#[derive(Hash)]
struct Lookup<'a, const N: usize>([&'a str; N]);

impl<const N: usize> From<&Lookup<'_, N>> for LabelValues<N> {
    fn from(lookup: &Lookup<'_, N>) -> Self {
        LabelValues(lookup.0.map(Box::from))
    }
}

impl<const N: usize> hashbrown::Equivalent<LabelValues<N>> for Lookup<'_, N> {
    fn equivalent(&self, key: &LabelValues<N>) -> bool {
        self.0.iter().zip(&key.0).all(|(a, b)| *a == &**b)
    }
}

/// One family: series by label values.
#[derive(Debug)]
struct Family<V, const N: usize> {
    labels: [&'static str; N],
    series: HashMap<LabelValues<N>, V, foldhash::fast::RandomState>,
}

impl<V, const N: usize> Family<V, N> {
    fn new(labels: [&'static str; N]) -> Self {
        Family {
            labels,
            series: HashMap::default(),
        }
    }

    /// The series for `values`, made with `new` if there is room for it.
    fn get(&mut self, values: [&str; N], new: impl FnOnce() -> V) -> Option<&mut V> {
        let full = self.series.len() >= MAX_SERIES;
        match self.series.entry_ref(&Lookup(values)) {
            EntryRef::Occupied(entry) => Some(entry.into_mut()),
            EntryRef::Vacant(_) if full => None,
            EntryRef::Vacant(entry) => Some(entry.insert(new())),
        }
    }

    fn label_set<'a>(
        &'a self,
        values: &'a LabelValues<N>,
        active: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut set: Vec<(&str, &str)> = self
            .labels
            .iter()
            .copied()
            .zip(values.0.iter().map(|v| &**v))
            .collect();
        set.push(("active", active));
        set
    }
}

impl<const N: usize> Family<u64, N> {
    fn inc(&mut self, values: [&str; N], by: u64) {
        if let Some(count) = self.get(values, || 0) {
            *count += by;
        }
    }
}

/// What is counted per component for every event, together: one lookup per event.
#[derive(Debug, Clone)]
struct ComponentStats {
    good: u64,
    /// By [`EventType`], in the order of [`EventType::ALL`].
    types: [u64; EventType::ALL.len()],
    processing_time: Histogram,
}

#[derive(Debug)]
struct Store {
    components: HashMap<Box<str>, ComponentStats, foldhash::fast::RandomState>,
    process_errors: Family<u64, 1>,
    refused: [u64; Refusal::ALL.len()],
    maintenance_time: Histogram,
    nodes_expired: Family<u64, 1>,
    governor: Family<u64, 3>,
    machine_transition: Family<u64, 5>,
    exec_watcher_success: Family<u64, 3>,
    exec_watcher_failures: Family<u64, 3>,
    exec_watcher_runtime: Family<Histogram, 3>,
}

/// The tally's metrics; register them with [`Metrics::register`], then feed them.
#[derive(Debug)]
pub struct Metrics {
    store: Mutex<Store>,
    active: AtomicBool,
    fleet: Arc<Mutex<Fleet>>,
    feed: Arc<FeedStats>,
    health: Arc<Health>,
}

impl Metrics {
    /// Metrics whose versions and lost nodes gauges read `fleet`, feed gauges `feed` and
    /// connected gauge `health`. Not active until [`Metrics::set_active`].
    pub(crate) fn new(
        fleet: Arc<Mutex<Fleet>>,
        feed: Arc<FeedStats>,
        health: Arc<Health>,
    ) -> Arc<Metrics> {
        Arc::new(Metrics {
            store: Mutex::new(Store {
                components: HashMap::default(),
                process_errors: Family::new(["component"]),
                refused: [0; Refusal::ALL.len()],
                maintenance_time: Histogram::new(&TIME_BUCKETS),
                nodes_expired: Family::new(["component"]),
                governor: Family::new(["component", "governor", "event"]),
                machine_transition: Family::new(["machine", "version", "transition", "from", "to"]),
                exec_watcher_success: Family::new(["machine", "version", "watcher"]),
                exec_watcher_failures: Family::new(["machine", "version", "watcher"]),
                exec_watcher_runtime: Family::new(["machine", "version", "watcher"]),
            }),
            active: AtomicBool::new(false),
            fleet,
            feed,
            health,
        })
    }

    /// A registry holding these metrics under `prefix` (Choria's is [`DEFAULT_PREFIX`]).
    pub fn register(self: &Arc<Self>, prefix: &str) -> Registry {
        let mut registry = Registry::with_prefix(prefix);
        registry.register_collector(Box::new(self.clone()));
        registry
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this instance leads: its series say `active="1"`.
    pub fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    /// Whether this instance leads.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// An event of `event_type` for `component` was processed in `took`.
    pub fn event(&self, component: &str, event_type: EventType, took: Duration) {
        let mut store = self.store();
        let full = store.components.len() >= MAX_SERIES;
        let stats = match store.components.entry_ref(component) {
            EntryRef::Occupied(entry) => entry.into_mut(),
            EntryRef::Vacant(_) if full => return,
            EntryRef::Vacant(entry) => entry.insert(ComponentStats {
                good: 0,
                types: [0; EventType::ALL.len()],
                processing_time: Histogram::new(&TIME_BUCKETS),
            }),
        };
        stats.good += 1;
        stats.types[event_type as usize] += 1;
        stats.processing_time.observe(took.as_secs_f64());
    }

    /// A message for `component` (empty when unknown) could not be processed.
    pub fn process_error(&self, component: &str) {
        self.store().process_errors.inc([component], 1);
    }

    /// An event was refused ([`Refusal`]).
    pub fn refused(&self, refusal: Refusal) {
        self.store().refused[refusal.index()] += 1;
    }

    /// Events refused so far, for every reason.
    pub fn refused_total(&self) -> u64 {
        self.store().refused.iter().sum()
    }

    /// Nodes expired so far, of every component.
    pub fn expired_total(&self) -> u64 {
        self.store().nodes_expired.series.values().sum()
    }

    /// A governor event.
    pub fn governor(&self, component: &str, governor: &str, event: &str) {
        self.store().governor.inc([component, governor, event], 1);
    }

    /// Nodes of `component` expired.
    pub fn expired(&self, component: &str, count: u64) {
        self.store().nodes_expired.inc([component], count);
    }

    /// A maintenance pass (expiry) took `took`.
    pub fn maintenance(&self, took: Duration) {
        self.store().maintenance_time.observe(took.as_secs_f64());
    }

    /// A machine transition.
    pub fn transition(&self, machine: &str, version: &str, transition: &str, from: &str, to: &str) {
        self.store()
            .machine_transition
            .inc([machine, version, transition, from, to], 1);
    }

    /// An exec watcher's state: its outcome and how long it ran.
    pub fn exec_watcher(
        &self,
        machine: &str,
        version: &str,
        watcher: &str,
        success: bool,
        run: Duration,
    ) {
        let mut store = self.store();
        let labels = [machine, version, watcher];
        if success {
            store.exec_watcher_success.inc(labels, 1);
        } else {
            store.exec_watcher_failures.inc(labels, 1);
        }
        if let Some(h) = store
            .exec_watcher_runtime
            .get(labels, || Histogram::new(&RUN_BUCKETS))
        {
            h.observe(run.as_secs_f64());
        }
    }
}

fn counters<const N: usize>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    family: &Family<u64, N>,
    active: &str,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (values, count) in &family.series {
        metric
            .encode_family(&family.label_set(values, active))?
            .encode_counter::<NoLabelSet, _, u64>(count, None)?;
    }
    Ok(())
}

fn histograms<const N: usize>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    family: &Family<Histogram, N>,
    active: &str,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (values, h) in &family.series {
        metric
            .encode_family(&family.label_set(values, active))?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets(), None)?;
    }
    Ok(())
}

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let active = if self.is_active() { "1" } else { "0" };
        let flag = |on: bool| i64::from(on);
        let mut metric = encoder.encode_descriptor(
            "leader",
            "1 while this tally leads (always, without an election), else 0",
            None,
            MetricType::Gauge,
        )?;
        metric
            .encode_family(&[("active", active)].as_slice())?
            .encode_gauge(&flag(self.is_active()))?;
        let mut metric = encoder.encode_descriptor(
            "connected",
            "1 while this tally is connected to its NATS broker, else 0",
            None,
            MetricType::Gauge,
        )?;
        metric
            .encode_family(&[("active", active)].as_slice())?
            .encode_gauge(&flag(self.health.is_connected()))?;

        // The fleet's gauges come first, from the fleet alone, so the fleet and the store
        // are never locked together.
        let (versions, lost) = {
            let fleet = self.fleet.lock().unwrap_or_else(|p| p.into_inner());
            let versions: Vec<(String, String, u64)> = fleet
                .shown_versions()
                .flat_map(|(c, vs)| {
                    vs.into_iter()
                        .map(move |(v, n)| (c.to_owned(), v.to_owned(), n))
                })
                .collect();
            let lost: Vec<(String, u64)> = fleet
                .lost_per_component()
                .map(|(c, n)| (c.to_owned(), n))
                .collect();
            (versions, lost)
        };
        let mut metric = encoder.encode_descriptor(
            "versions",
            "Nodes running each version of each component (0 for --max-age after the last left)",
            None,
            MetricType::Gauge,
        )?;
        for (component, version, count) in &versions {
            let labels = [
                ("component", &**component),
                ("version", &**version),
                ("active", active),
            ];
            metric
                .encode_family(&labels.as_slice())?
                .encode_gauge(&(*count as i64))?;
        }
        let mut metric = encoder.encode_descriptor(
            "lost_nodes",
            "Nodes of each component not seen for --max-age without a shutdown, kept for --lost-retention",
            None,
            MetricType::Gauge,
        )?;
        for (component, count) in &lost {
            metric
                .encode_family(&[("component", &**component), ("active", active)].as_slice())?
                .encode_gauge(&(*count as i64))?;
        }

        let store = self.store();
        let mut metric = encoder.encode_descriptor(
            "good_events",
            "Events processed",
            None,
            MetricType::Counter,
        )?;
        for (component, stats) in &store.components {
            metric
                .encode_family(&[("component", &**component), ("active", active)].as_slice())?
                .encode_counter::<NoLabelSet, _, u64>(&stats.good, None)?;
        }
        counters(
            &mut encoder,
            "process_errors",
            "Messages that could not be processed",
            &store.process_errors,
            active,
        )?;
        let mut metric = encoder.encode_descriptor(
            "refused",
            "Events not counted, by reason: no_identity, no_component, name_too_long, too_many_components, too_many_versions",
            None,
            MetricType::Counter,
        )?;
        for (refusal, count) in Refusal::ALL.iter().zip(&store.refused) {
            metric
                .encode_family(&[("reason", refusal.as_str()), ("active", active)].as_slice())?
                .encode_counter::<NoLabelSet, _, u64>(count, None)?;
        }
        let mut metric = encoder.encode_descriptor(
            "feed_buffered_bytes",
            "Bytes of events the live feed holds for listeners that have not read them",
            None,
            MetricType::Gauge,
        )?;
        metric
            .encode_family(&[("active", active)].as_slice())?
            .encode_gauge(&(self.feed.buffered_bytes() as i64))?;
        let mut metric = encoder.encode_descriptor(
            "feed_dropped",
            "Events the live feed dropped for listeners that fell behind",
            None,
            MetricType::Counter,
        )?;
        metric
            .encode_family(&[("active", active)].as_slice())?
            .encode_counter::<NoLabelSet, _, u64>(&self.feed.dropped(), None)?;
        let mut metric = encoder.encode_descriptor(
            "event_types",
            "Events processed by type",
            None,
            MetricType::Counter,
        )?;
        for (component, stats) in &store.components {
            for (event_type, count) in EventType::ALL.iter().zip(&stats.types) {
                if *count > 0 {
                    let labels = [
                        ("component", &**component),
                        ("type", event_type.as_str()),
                        ("active", active),
                    ];
                    metric
                        .encode_family(&labels.as_slice())?
                        .encode_counter::<NoLabelSet, _, u64>(count, None)?;
                }
            }
        }
        let mut metric = encoder.encode_descriptor(
            "processing_time",
            "Time to process an event, seconds",
            None,
            MetricType::Histogram,
        )?;
        for (component, stats) in &store.components {
            let h = &stats.processing_time;
            metric
                .encode_family(&[("component", &**component), ("active", active)].as_slice())?
                .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets(), None)?;
        }
        let mut metric = encoder.encode_descriptor(
            "maintenance_time",
            "Time to expire nodes, seconds",
            None,
            MetricType::Histogram,
        )?;
        let h = &store.maintenance_time;
        metric
            .encode_family(&[("active", active)].as_slice())?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets(), None)?;
        counters(
            &mut encoder,
            "nodes_expired",
            "Nodes removed for not being seen",
            &store.nodes_expired,
            active,
        )?;
        counters(
            &mut encoder,
            "governor",
            "Governor events",
            &store.governor,
            active,
        )?;
        counters(
            &mut encoder,
            "machine_transition",
            "Autonomous agent transitions",
            &store.machine_transition,
            active,
        )?;
        counters(
            &mut encoder,
            "exec_watcher_success",
            "Successful exec watcher runs",
            &store.exec_watcher_success,
            active,
        )?;
        counters(
            &mut encoder,
            "exec_watcher_failures",
            "Failed exec watcher runs",
            &store.exec_watcher_failures,
            active,
        )?;
        histograms(
            &mut encoder,
            "exec_watcher_runtime",
            "Exec watcher run time, seconds",
            &store.exec_watcher_runtime,
            active,
        )?;
        Ok(())
    }
}
