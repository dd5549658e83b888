//! The fleet's state over HTTP, with the tally's clock moved by hand: versions that read 0
//! and then go, lost nodes kept then forgotten, and `/api/v1/nodes` filtered by state and by
//! the filter language.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use common::{Served, get, serve_tally};
use lifecycle_core::{AnyEvent, Event, EventType};
use lifecycle_tally::{Node, NodePage, NodeState, Status, Tally, TallyOptions};
use lifecycle_testsupport::encode_query;

const START: i64 = 1_700_000_000;
const MAX_AGE: i64 = 80 * 60;
const RETENTION: i64 = 24 * 60 * 60;

/// A tally whose clock reads `clock`, with Choria's max age and the default retention.
fn tally(clock: &Arc<AtomicI64>) -> Tally {
    let reading = clock.clone();
    let tally = Tally::new(TallyOptions {
        clock: Arc::new(move || reading.load(Ordering::Relaxed)),
        max_age: Duration::from_secs(MAX_AGE as u64),
        lost_retention: Duration::from_secs(RETENTION as u64),
        ..Default::default()
    });
    tally.set_ready(true);
    tally.metrics().set_active(true);
    tally
}

fn event(kind: EventType, identity: &str, component: &str, version: &str, at: i64) -> AnyEvent {
    Event::builder(kind)
        .identity(identity)
        .component(component)
        .version(version)
        .timestamp(at)
        .build()
        .unwrap()
        .into()
}

fn alive(identity: &str, component: &str, version: &str, at: i64) -> AnyEvent {
    event(EventType::Alive, identity, component, version, at)
}

/// `/metrics` lines of `name`, as written.
async fn lines(base: &str, name: &str) -> Vec<String> {
    let (status, metrics) = get(base, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    let mut lines: Vec<String> = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .map(str::to_owned)
        .collect();
    lines.sort_unstable();
    lines
}

async fn page(base: &str, query: &str) -> NodePage {
    let (status, body) = get(base, &format!("/api/v1/nodes?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Every node a query lists, following its cursors, as (identity, state) sorted.
async fn listed(base: &str, query: &str) -> Vec<(String, NodeState)> {
    let mut nodes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let paged = match &cursor {
            Some(cursor) => format!("{query}&limit=2&cursor={cursor}"),
            None => format!("{query}&limit=2"),
        };
        let page = page(base, &paged).await;
        nodes.extend(page.nodes.into_iter().map(|n| (n.identity, n.state)));
        match page.next_cursor {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    nodes.sort();
    nodes
}

fn up(identities: &[&str]) -> Vec<(String, NodeState)> {
    identities
        .iter()
        .map(|i| (i.to_string(), NodeState::Up))
        .collect()
}

/// A tally on a clock set at `START`, served: the clock, the tally, where it is served.
async fn served() -> (Arc<AtomicI64>, Tally, Served) {
    let clock = Arc::new(AtomicI64::new(START));
    let tally = tally(&clock);
    let served = serve_tally(&tally, "lifecycle_tally").await;
    (clock, tally, served)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_reads_zero_after_its_last_node_left_then_goes_after_max_age() {
    let (clock, tally, served) = served().await;
    tally.observe(&alive("n1", "server", "0.29.4", START));
    tally.observe(&alive("n2", "server", "0.29.4", START));
    // Both upgrade: the last node leaves 0.29.4 at START + 60.
    clock.store(START + 60, Ordering::Relaxed);
    tally.observe(&alive("n1", "server", "0.30.0", START + 60));
    tally.observe(&alive("n2", "server", "0.30.0", START + 60));
    let versions = || lines(&served.base, "lifecycle_tally_versions");
    assert_eq!(
        versions().await,
        [
            "lifecycle_tally_versions{component=\"server\",version=\"0.29.4\",active=\"1\"} 0",
            "lifecycle_tally_versions{component=\"server\",version=\"0.30.0\",active=\"1\"} 2",
        ]
    );
    // Still 0 at max age after it left; gone once max age has passed since.
    clock.store(START + 60 + MAX_AGE, Ordering::Relaxed);
    tally.observe(&alive("n1", "server", "0.30.0", START + 60 + MAX_AGE));
    tally.observe(&alive("n2", "server", "0.30.0", START + 60 + MAX_AGE));
    tally.expire();
    assert_eq!(versions().await.len(), 2);
    clock.fetch_add(1, Ordering::Relaxed);
    tally.expire();
    assert_eq!(
        versions().await,
        ["lifecycle_tally_versions{component=\"server\",version=\"0.30.0\",active=\"1\"} 2"]
    );
    // The API lists the versions nodes run, never those at 0.
    let (_, body) = get(&served.base, "/api/v1/components").await;
    assert_eq!(
        body,
        r#"[{"component":"server","nodes":2,"versions":{"0.30.0":2}}]"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_gone_quiet_is_lost_until_it_reports_or_the_retention_ends() {
    let (clock, tally, served) = served().await;
    let base = &served.base;
    for identity in ["n1", "n2", "n3", "n4"] {
        tally.observe(&alive(identity, "server", "0.29.4", START));
    }
    tally.observe(&alive("b1", "broker", "2.0.0", START));
    // n4 says it shuts down: gone, not lost.
    tally.observe(&event(EventType::Shutdown, "n4", "server", "", START + 10));
    // n1 keeps reporting; the others go quiet.
    clock.store(START + MAX_AGE + 100, Ordering::Relaxed);
    tally.observe(&alive("n1", "server", "0.29.4", START + MAX_AGE + 100));
    assert_eq!(tally.expire(), 3);
    assert_eq!(
        lines(base, "lifecycle_tally_lost_nodes").await,
        [
            "lifecycle_tally_lost_nodes{component=\"broker\",active=\"1\"} 1",
            "lifecycle_tally_lost_nodes{component=\"server\",active=\"1\"} 2",
        ]
    );
    assert_eq!(listed(base, "state=up").await, up(&["n1"]));
    assert_eq!(
        listed(base, "state=lost").await,
        [
            ("b1".to_owned(), NodeState::Lost),
            ("n2".to_owned(), NodeState::Lost),
            ("n3".to_owned(), NodeState::Lost),
        ]
    );
    let lost = page(base, "state=lost&component=server&version=0.29.4").await;
    let mut lost = lost.nodes;
    lost.sort_by(|a, b| a.identity.cmp(&b.identity));
    assert_eq!(
        lost[0],
        Node {
            identity: "n2".into(),
            component: "server".into(),
            version: "0.29.4".into(),
            last_seen: START,
            state: NodeState::Lost,
        }
    );
    // As JSON, a node says its state in words.
    let (_, body) = get(base, "/api/v1/nodes?state=lost&component=broker").await;
    assert_eq!(
        body,
        format!(
            r#"{{"nodes":[{{"identity":"b1","component":"broker","version":"2.0.0","last_seen":{START},"state":"lost"}}],"next_cursor":null}}"#
        )
    );
    let status: Status = serde_json::from_str(&get(base, "/api/v1/status").await.1).unwrap();
    assert_eq!((status.up, status.expired), (1, 3));
    assert_eq!(
        status
            .lost
            .iter()
            .map(|l| (l.component.as_str(), l.lost))
            .collect::<Vec<_>>(),
        [("server", 2), ("broker", 1)]
    );

    // n2 reports again: up, at the version it reports.
    tally.observe(&alive("n2", "server", "0.30.0", START + MAX_AGE + 200));
    assert_eq!(listed(base, "state=up").await, up(&["n1", "n2"]));
    assert_eq!(
        lines(base, "lifecycle_tally_lost_nodes").await[1],
        "lifecycle_tally_lost_nodes{component=\"server\",active=\"1\"} 1"
    );
    // A lost node that shuts down is gone.
    tally.observe(&event(
        EventType::Shutdown,
        "n3",
        "server",
        "",
        START + MAX_AGE + 300,
    ));
    assert_eq!(
        listed(base, "state=all").await,
        [
            ("b1".to_owned(), NodeState::Lost),
            ("n1".to_owned(), NodeState::Up),
            ("n2".to_owned(), NodeState::Up),
        ]
    );
    // Past the retention the lost are forgotten, and no longer counted.
    clock.store(START + MAX_AGE + RETENTION + 1, Ordering::Relaxed);
    tally.observe(&alive(
        "n1",
        "server",
        "0.30.0",
        START + MAX_AGE + RETENTION + 1,
    ));
    tally.observe(&alive(
        "n2",
        "server",
        "0.30.0",
        START + MAX_AGE + RETENTION + 1,
    ));
    tally.expire();
    assert_eq!(listed(base, "state=lost").await, []);
    assert_eq!(
        lines(base, "lifecycle_tally_lost_nodes").await,
        [
            "lifecycle_tally_lost_nodes{component=\"broker\",active=\"1\"} 0",
            "lifecycle_tally_lost_nodes{component=\"server\",active=\"1\"} 0",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_are_filtered_by_the_filter_language_over_their_state() {
    let (clock, tally, served) = served().await;
    let base = &served.base;
    // Liveness is by receipt: old1 was received more than the max age ago; last_seen is
    // each event's own time.
    clock.store(START + 100 - MAX_AGE - 5, Ordering::Relaxed);
    tally.observe(&alive(
        "old1",
        "server",
        "0.29.4",
        START + 100 - MAX_AGE - 5,
    ));
    clock.store(START + 100, Ordering::Relaxed);
    for (identity, component, version, at) in [
        ("web1", "server", "0.29.4", START),
        ("web2", "server", "0.30.0", START + 10),
        ("web3", "server", "0.100.0", START + 20),
        ("db1", "server", "0.28.0", START + 30),
        ("b1", "broker", "0.29.4", START + 40),
    ] {
        tally.observe(&alive(identity, component, version, at));
    }
    tally.expire(); // old1 is lost
    let filtered = async |filter: &str, state: &str| {
        let query = format!("state={state}&filter={}", encode_query(filter));
        listed(base, &query).await
    };
    // Versions compare as versions: 0.100.0 is not below 0.30.0.
    assert_eq!(
        filtered("component=server,.version<0.30.0", "up").await,
        up(&["db1", "web1"])
    );
    assert_eq!(
        filtered(&format!(".last_seen<{}", START + 15), "up").await,
        up(&["web1", "web2"])
    );
    assert_eq!(
        filtered("identity=web*", "up").await,
        up(&["web1", "web2", "web3"])
    );
    assert_eq!(
        filtered(".state=lost", "all").await,
        [("old1".to_owned(), NodeState::Lost)]
    );
    assert_eq!(filtered(".state=lost", "up").await, []);
    assert_eq!(
        filtered("version=0.29.4", "all").await,
        [
            ("b1".to_owned(), NodeState::Up),
            ("old1".to_owned(), NodeState::Lost),
            ("web1".to_owned(), NodeState::Up),
        ]
    );
    // Nodes are alive events to the filter: a type element other than alive passes none.
    assert_eq!(filtered("alive,component=broker", "up").await, up(&["b1"]));
    assert_eq!(filtered("startup", "all").await, []);
    // With component= and version= as before.
    assert_eq!(
        listed(
            base,
            &format!(
                "component=server&filter={}",
                encode_query(".version>=0.30.0")
            )
        )
        .await,
        up(&["web2", "web3"])
    );

    // Refused, saying what and where.
    let (status, body) = get(
        base,
        &format!("/api/v1/nodes?filter={}", encode_query("foo=bar")),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("invalid filter: ")
            && body.contains("unknown key 'foo'")
            && body.contains("position 1"),
        "{body}"
    );
    let (status, body) = get(base, "/api/v1/nodes?state=gone").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "invalid state 'gone' (expected up, lost or all)\n")
    );
}
