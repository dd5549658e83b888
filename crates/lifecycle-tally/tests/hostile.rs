//! The tally against what an attacker (or a broken publisher or client) sends: events that
//! name no node, floods of junk names, a full node listing while the fleet changes, bad
//! query values and connections that never finish their request.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{connect, get, serve_tally, within};
use lifecycle_core::{AnyEvent, Event, EventType, Format};
use lifecycle_tally::{
    ComponentCount, DEFAULT_MAX_COMPONENTS, DEFAULT_MAX_VERSIONS, NodePage, Tally, TallyOptions,
};
use lifecycle_testsupport::NatsServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The lines of `/metrics` for `name`, its labels and value as written.
fn series<'a>(metrics: &'a str, name: &str) -> Vec<&'a str> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .collect()
}

fn refused(metrics: &str) -> BTreeMap<String, u64> {
    series(metrics, "lifecycle_tally_refused_total")
        .into_iter()
        .map(|l| {
            let (labels, value) = l.rsplit_once("} ").unwrap();
            let reason = labels
                .strip_prefix("reason=\"")
                .and_then(|r| r.split('"').next())
                .unwrap();
            (reason.to_owned(), value.parse().unwrap())
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn alive(identity: &str, component: &str, version: &str) -> AnyEvent {
    AnyEvent::Lifecycle(
        Event::builder(EventType::Alive)
            .identity(identity)
            .component(component)
            .version(version)
            .build()
            .unwrap(),
    )
}

fn ready_tally() -> Tally {
    let tally = Tally::new(TallyOptions::default());
    tally.set_ready(true);
    tally.metrics().set_active(true);
    tally
}

#[tokio::test(flavor = "multi_thread")]
async fn events_without_component_or_identity_are_refused_never_nodes() {
    let server = NatsServer::start();
    let tally = Tally::new(TallyOptions::default());
    let connection = connect(&server).await;
    let ingesting = tally.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let ingest = tokio::spawn(async move {
        ingesting
            .ingest(&connection, async {
                let _ = stopped.await;
            })
            .await
    });
    let served = serve_tally(&tally, "lifecycle_tally").await;
    within(60, "the tally to be ready", async {
        while !tally.is_ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // What the builders refuse to make, a publisher can still send.
    let plain = connect(&server).await;
    let unnamed = |i: usize, identity: &str, component: &str| {
        format!(
            r#"{{"protocol":"io.choria.lifecycle.v1.alive","id":"00000000-0000-4000-8000-{i:012}","identity":"{identity}","component":"{component}","timestamp":0,"version":"0.29.4"}}"#
        )
    };
    let no_names =
        r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"x","timestamp":0,"version":"1"}"#;
    for i in 0..1_000 {
        let payload = match i % 4 {
            0 => no_names.to_owned(),
            1 => unnamed(i, "", ""),
            2 => unnamed(i, &format!("n{i}"), ""),
            _ => unnamed(i, "", "server"),
        };
        plain
            .client()
            .publish("choria.lifecycle.event.alive.server", payload.into())
            .await
            .unwrap();
    }
    // Then one real event: when it is counted, so is everything before it.
    let publisher = connect(&server).await.publisher(Format::Choria);
    let real = alive("real1", "server", "0.29.4");
    publisher
        .publish(real.as_lifecycle().unwrap())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let metrics = within(60, "the real event to be counted", async {
        loop {
            let (_, metrics) = get(&served.base, "/metrics").await;
            if metrics.contains("lifecycle_tally_good_events_total{component=\"server\"") {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    assert_eq!(
        refused(&metrics),
        [("no_component".into(), 750), ("no_identity".into(), 250)].into()
    );
    assert_eq!(tally.fleet().len(), 1);
    let (_, components) = get(&served.base, "/api/v1/components").await;
    let components: Vec<ComponentCount> = serde_json::from_str(&components).unwrap();
    assert_eq!(
        components,
        [ComponentCount {
            component: "server".into(),
            nodes: 1,
            versions: [("0.29.4".to_owned(), 1)].into(),
        }]
    );
    assert_eq!(
        series(&metrics, "lifecycle_tally_versions"),
        ["component=\"server\",version=\"0.29.4\",active=\"0\"} 1"]
    );

    stop.send(()).unwrap();
    within(60, "ingest to stop", ingest).await.unwrap().unwrap();
}

#[tokio::test]
async fn junk_names_are_capped_and_the_real_fleet_stays_on_top() {
    let tally = ready_tally();
    let served = serve_tally(&tally, "lifecycle_tally").await;
    for i in 0..30 {
        tally.observe(&alive(
            &format!("s{i}"),
            "server",
            ["0.28.0", "0.29.4"][i % 2],
        ));
    }
    for i in 0..10 {
        tally.observe(&alive(&format!("b{i}"), "broker", "1.0.0"));
    }
    // 20,000 junk components with a node each, and 3,000 junk versions of the server.
    for i in 0..20_000 {
        tally.observe(&alive(&format!("j{i}"), &format!("junk{i:05}"), "1"));
    }
    for i in 0..3_000 {
        tally.observe(&alive(&format!("v{i}"), "server", &format!("6.6.{i}")));
    }
    let junk_components = DEFAULT_MAX_COMPONENTS - 2;
    let junk_versions = DEFAULT_MAX_VERSIONS - 2;

    let (_, metrics) = get(&served.base, "/metrics").await;
    assert_eq!(
        refused(&metrics),
        [
            (
                "too_many_components".into(),
                (20_000 - junk_components) as u64
            ),
            ("too_many_versions".into(), (3_000 - junk_versions) as u64),
        ]
        .into()
    );
    // One series per version running: the server's, the broker's, one per junk component.
    assert_eq!(
        series(&metrics, "lifecycle_tally_versions").len(),
        DEFAULT_MAX_VERSIONS + 1 + junk_components
    );
    assert_eq!(
        series(&metrics, "lifecycle_tally_good_events_total").len(),
        DEFAULT_MAX_COMPONENTS
    );

    let (_, body) = get(&served.base, "/api/v1/components").await;
    let components: Vec<ComponentCount> = serde_json::from_str(&body).unwrap();
    assert_eq!(components.len(), DEFAULT_MAX_COMPONENTS);
    assert_eq!(components[0].component, "server");
    assert_eq!(components[0].nodes, (30 + junk_versions) as u64);
    assert_eq!(components[0].versions["0.29.4"], 15);
    assert_eq!(components[1].component, "broker");
    assert_eq!(components[1].nodes, 10);
    let junk: Vec<&str> = components[2..]
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    let want: Vec<String> = (0..junk_components)
        .map(|i| format!("junk{i:05}"))
        .collect();
    assert_eq!(junk, want);
    assert!(components[2..].iter().all(|c| c.nodes == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_lists_every_lasting_node_exactly_once_while_the_fleet_changes() {
    let tally = ready_tally();
    let served = serve_tally(&tally, "lifecycle_tally").await;
    for i in 0..20_000 {
        tally.observe(&alive(&format!("stay{i}"), "server", "1"));
        tally.observe(&alive(&format!("churn{i}"), "server", "1"));
    }
    // Meanwhile nodes leave and new ones arrive, taking the places of those that left.
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (tally, stop) = (tally.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let shutdown = Event::builder(EventType::Shutdown)
                    .identity(format!("churn{}", i % 20_000))
                    .component("server")
                    .build()
                    .unwrap();
                tally.observe(&AnyEvent::Lifecycle(shutdown));
                tally.observe(&alive(&format!("new{i}"), "server", "2"));
                i += 1;
                if i % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            i
        })
    };
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/nodes?limit=1000&cursor={cursor}"),
            None => "/api/v1/nodes?limit=1000".to_owned(),
        };
        let (status, body) = get(&served.base, &path).await;
        assert_eq!(status, 200, "{body}");
        let page: NodePage = serde_json::from_str(&body).unwrap();
        assert!(page.nodes.len() <= 1000);
        for node in page.nodes {
            *seen.entry(node.identity).or_default() += 1;
        }
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let churned = churn.join().unwrap();
    assert!(churned > 0);
    assert!(pages >= 20, "{pages} pages");
    for i in 0..20_000 {
        assert_eq!(seen.get(&format!("stay{i}")), Some(&1), "stay{i}");
    }
    // Nodes that came or went may be listed or not, never twice.
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{twice:?}");
    // Filters still apply, a page at a time.
    let (_, body) = get(
        &served.base,
        "/api/v1/nodes?component=server&version=1&limit=7",
    )
    .await;
    let page: NodePage = serde_json::from_str(&body).unwrap();
    assert_eq!(page.nodes.len(), 7);
    assert!(page.nodes.iter().all(|n| n.version == "1"));
    assert!(page.next_cursor.is_some());
    let (_, body) = get(&served.base, "/api/v1/nodes?component=nope").await;
    assert_eq!(body, r#"{"nodes":[],"next_cursor":null}"#);
}

#[tokio::test]
async fn bad_node_queries_are_answered_400_saying_what_was_wrong() {
    let tally = ready_tally();
    let served = serve_tally(&tally, "lifecycle_tally").await;
    let cases = [
        (
            "limit=0",
            "invalid limit \"0\": a whole number from 1 to 10000\n",
        ),
        (
            "limit=10001",
            "invalid limit \"10001\": a whole number from 1 to 10000\n",
        ),
        (
            "limit=ten",
            "invalid limit \"ten\": a whole number from 1 to 10000\n",
        ),
        (
            "cursor=abc",
            "invalid cursor \"abc\": pass the next_cursor of the previous page\n",
        ),
        (
            "cursor=-1",
            "invalid cursor \"-1\": pass the next_cursor of the previous page\n",
        ),
    ];
    for (query, message) in cases {
        let (status, body) = get(&served.base, &format!("/api/v1/nodes?{query}")).await;
        assert_eq!((status, body.as_str()), (400, message), "{query}");
    }
    // A cursor past the end is simply the end.
    let (status, body) = get(&served.base, "/api/v1/nodes?cursor=4000000000").await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"nodes":[],"next_cursor":null}"#)
    );
}

#[tokio::test]
async fn half_open_connections_are_closed_and_the_tally_answers_meanwhile() {
    let tally = ready_tally();
    let served = serve_tally(&tally, "lifecycle_tally").await;
    let address = served.base.trim_start_matches("http://").to_owned();
    let mut half_open = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nX-Never-Ends")
            .await
            .unwrap();
        half_open.push(stream);
    }
    assert_eq!(get(&served.base, "/healthz").await, (200, "ok\n".into()));
    within(30, "the tally to close 40 half-open connections", async {
        for mut stream in half_open {
            let mut buffer = [0; 1024];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
            }
        }
    })
    .await;
    assert_eq!(get(&served.base, "/healthz").await, (200, "ok\n".into()));
}
