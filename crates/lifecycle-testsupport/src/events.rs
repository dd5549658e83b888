//! Events as the tests build them: a node's alive, startup, upgrade or shutdown of the
//! `server` component, and a fleet of startups.

use std::collections::HashMap;

use lifecycle_core::{
    AnyEvent, Event, EventType, ExecState, GovernorEventType, MachineEvent, WatcherState,
};
use lifecycle_nats::Received;

/// The version a test's node runs unless it says otherwise.
pub const VERSION: &str = "0.29.4";

/// An event of `kind` from `identity`'s `component` at `version`.
pub fn event(kind: EventType, identity: &str, component: &str, version: &str) -> Event {
    Event::builder(kind)
        .identity(identity)
        .component(component)
        .version(version)
        .build()
        .expect("a valid event")
}

/// `identity`'s server is alive at `version`.
pub fn alive(identity: &str, version: &str) -> Event {
    event(EventType::Alive, identity, "server", version)
}

/// `identity`'s server started, at [`VERSION`].
pub fn startup(identity: &str) -> Event {
    event(EventType::Startup, identity, "server", VERSION)
}

/// `identity`'s server is shutting down.
pub fn shutdown(identity: &str) -> Event {
    Event::builder(EventType::Shutdown)
        .identity(identity)
        .component("server")
        .build()
        .expect("a valid event")
}

/// `identity`'s server upgraded from `from` to `to`.
pub fn upgraded(identity: &str, from: &str, to: &str) -> Event {
    Event::builder(EventType::Upgraded)
        .identity(identity)
        .component("server")
        .version(from)
        .new_version(to)
        .build()
        .expect("a valid event")
}

/// `count` startup events of `nodes` identities, `node0.example.net` ... in turn.
pub fn fleet(count: usize, nodes: usize) -> Vec<Event> {
    (0..count)
        .map(|i| startup(&format!("node{}.example.net", i % nodes)))
        .collect()
}

/// One event of each type for `component`, from `identity`, every field set.
pub fn one_of_each(identity: &str, component: &str) -> Vec<Event> {
    EventType::ALL
        .into_iter()
        .map(|t| {
            Event::builder(t)
                .identity(identity)
                .component(component)
                .version("0.28.0")
                .new_version(VERSION)
                .governor("PUPPET")
                .sequence(3)
                .governor_event(GovernorEventType::Enter)
                .timestamp(1_700_000_000)
                .build()
                .expect("a valid event")
        })
        .collect()
}

/// The state of the exec watcher `check` of the machine `Docker` (instance `id`, version
/// 1.0.0) on `identity` at `timestamp`: its `/bin/true` ended with `outcome` after
/// `run_time` nanoseconds.
pub fn docker_check(
    identity: &str,
    id: &str,
    timestamp: i64,
    outcome: &str,
    run_time: i64,
) -> AnyEvent {
    AnyEvent::from(MachineEvent::WatcherState(WatcherState::exec(
        identity,
        id,
        "1.0.0",
        timestamp,
        "Docker",
        "check",
        ExecState {
            command: "/bin/true".into(),
            previous_outcome: outcome.into(),
            previous_run_time: run_time,
        },
    )))
}

/// `event` as a subscription hands it over: its subject, its JSON and that parsed; not from
/// a stream.
pub fn received(event: &Event) -> Received {
    Received::of(&event.clone().into()).expect("a valid subject")
}

/// Each identity's event ids, in the order of `events`.
pub fn by_identity(events: &[Event]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for event in events {
        map.entry(event.identity().to_owned())
            .or_default()
            .push(event.id().to_owned());
    }
    map
}
