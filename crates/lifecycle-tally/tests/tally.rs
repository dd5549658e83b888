//! The tally against a real nats-server: a scripted fleet, expiry with an injected clock,
//! exact metrics and API answers, promtool, and a restart answered from replay.

mod common;

use common::{connect, connect_with_events, within};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use lifecycle_core::{Event, EventType, Format, GovernorEventType};
use lifecycle_nats::Publisher;
use lifecycle_tally::{ComponentCount, Limits, NodePage, Tally, TallyOptions, router, serve};
use lifecycle_testsupport::NatsServer;
use tokio::sync::oneshot;

fn now() -> i64 {
    lifecycle_core::clock::now()
}

/// A tally fed by `server`, served on a random port, stopped on drop.
struct Running {
    tally: Tally,
    base: String,
    clock: Arc<AtomicI64>,
    stop: Option<(oneshot::Sender<()>, oneshot::Sender<()>)>,
}

impl Running {
    async fn start(server: &NatsServer) -> Running {
        let clock = Arc::new(AtomicI64::new(now()));
        let reading = clock.clone();
        let tally = Tally::new(TallyOptions {
            clock: Arc::new(move || reading.load(Ordering::Relaxed)),
            ..Default::default()
        });
        let connection = connect(server).await;
        let (stop_ingest, ingest_stopped) = oneshot::channel::<()>();
        let ingesting = tally.clone();
        tokio::spawn(async move {
            ingesting
                .ingest(&connection, async {
                    let _ = ingest_stopped.await;
                })
                .await
                .unwrap();
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_http, http_stopped) = oneshot::channel::<()>();
        let app = router(tally.clone(), "lifecycle_tally");
        tokio::spawn(serve(listener, app, Limits::default(), async {
            let _ = http_stopped.await;
        }));
        Running {
            tally,
            base,
            clock,
            stop: Some((stop_ingest, stop_http)),
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Waits until the tally answers and has processed `events` events.
    async fn wait_for(&self, events: u64) {
        within(60, "the tally to process the events", async {
            loop {
                let (status, body) = self.get("/metrics").await;
                if status == 200 && good_events(&body) >= events {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }

    async fn components(&self) -> Vec<ComponentCount> {
        serde_json::from_str(&self.get("/api/v1/components").await.1).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some((ingest, http)) = self.stop.take() {
            let _ = ingest.send(());
            let _ = http.send(());
        }
    }
}

fn good_events(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("lifecycle_tally_good_events_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The metric lines of `name`, with their labels sorted, as `labels value`.
fn series(metrics: &str, name: &str) -> BTreeMap<String, String> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .map(|l| {
            let (labels, value) = l.rsplit_once("} ").unwrap();
            let mut labels: Vec<&str> = labels.split(',').collect();
            labels.sort_unstable();
            (labels.join(","), value.to_owned())
        })
        .collect()
}

fn event(kind: EventType, identity: &str, component: &str, version: &str) -> Event {
    Event::builder(kind)
        .identity(identity)
        .component(component)
        .version(version)
        .new_version("0.29.4")
        .governor("PUPPET")
        .sequence(1)
        .governor_event(GovernorEventType::Enter)
        .build()
        .unwrap()
}

/// The script: 3 servers and a broker start, alive, one changes version, one upgrades, one
/// shuts down; a governor and a provisioned event pass through.
async fn script(publisher: &Publisher) -> u64 {
    use EventType::*;
    let events = [
        event(Startup, "n1", "server", "0.28.0"),
        event(Startup, "n2", "server", "0.28.0"),
        event(Startup, "n3", "server", "0.28.0"),
        event(Startup, "b1", "broker", "1.0.0"),
        event(Alive, "n1", "server", "0.28.0"),
        event(Alive, "n2", "server", "0.29.0"),
        event(Upgraded, "n3", "server", "0.28.0"),
        event(Alive, "n4", "server", "0.29.4"),
        event(Shutdown, "n1", "server", ""),
        event(Governor, "n2", "server", ""),
        event(Provisioned, "n2", "server", ""),
    ];
    publisher.publish_all(&events).await.unwrap();
    publisher.flush().await.unwrap();
    events.len() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scripted_fleet_gives_exact_metrics_and_answers() {
    let server = NatsServer::start();
    let tally = Running::start(&server).await;
    // Live only here (no stream): ready at once, events counted as they come.
    within(60, "readiness", async {
        while tally.get("/readyz").await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let publisher = connect(&server).await.publisher(Format::Choria);
    let sent = script(&publisher).await;
    tally.wait_for(sent).await;

    let metrics = tally.get("/metrics").await.1;
    let versions = series(&metrics, "lifecycle_tally_versions");
    let want: BTreeMap<String, String> = [
        ("active=\"0\",component=\"broker\",version=\"1.0.0\"", "1"),
        // Its last node left: 0 until max-age has passed since.
        ("active=\"0\",component=\"server\",version=\"0.28.0\"", "0"),
        ("active=\"0\",component=\"server\",version=\"0.29.0\"", "1"),
        ("active=\"0\",component=\"server\",version=\"0.29.4\"", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(versions, want, "{metrics}");
    let types = series(&metrics, "lifecycle_tally_event_types_total");
    assert_eq!(
        types["active=\"0\",component=\"server\",type=\"startup\""],
        "3"
    );
    assert_eq!(
        types["active=\"0\",component=\"server\",type=\"alive\""],
        "3"
    );
    assert_eq!(
        types["active=\"0\",component=\"server\",type=\"shutdown\""],
        "1"
    );
    assert_eq!(
        types["active=\"0\",component=\"server\",type=\"upgraded\""],
        "1"
    );
    assert_eq!(
        series(&metrics, "lifecycle_tally_governor_total")["active=\"0\",component=\"server\",event=\"enter\",governor=\"PUPPET\""],
        "1"
    );
    assert_eq!(
        series(&metrics, "lifecycle_tally_good_events_total")["active=\"0\",component=\"server\""],
        "10"
    );

    let components = tally.components().await;
    // The biggest component first.
    assert_eq!(
        components,
        [
            ComponentCount {
                component: "server".into(),
                nodes: 3,
                versions: [("0.29.0".to_owned(), 1), ("0.29.4".to_owned(), 2)].into(),
            },
            ComponentCount {
                component: "broker".into(),
                nodes: 1,
                versions: [("1.0.0".to_owned(), 1)].into(),
            },
        ]
    );
    let page: NodePage = serde_json::from_str(
        &tally
            .get("/api/v1/nodes?component=server&version=0.29.4")
            .await
            .1,
    )
    .unwrap();
    assert_eq!(page.next_cursor, None);
    let mut identities: Vec<&str> = page.nodes.iter().map(|n| n.identity.as_str()).collect();
    identities.sort_unstable();
    assert_eq!(identities, ["n3", "n4"]);

    // An invalid message is a counted process error; the tally goes on.
    let plain = connect(&server).await;
    plain
        .client()
        .publish("choria.lifecycle.event.alive.server", "{nope".into())
        .await
        .unwrap();
    plain.client().flush().await.unwrap();

    // Time passes: everyone but n4, who reports again, expires.
    tally.clock.fetch_add(81 * 60, Ordering::Relaxed);
    let later = Event::builder(EventType::Alive)
        .identity("n4")
        .component("server")
        .version("0.29.4")
        .timestamp(tally.clock.load(Ordering::Relaxed))
        .build()
        .unwrap();
    publisher.publish(&later).await.unwrap();
    publisher.flush().await.unwrap();
    tally.wait_for(sent + 1).await;
    assert_eq!(tally.tally.expire(), 3);
    let metrics = tally.get("/metrics").await.1;
    let expired = series(&metrics, "lifecycle_tally_nodes_expired_total");
    assert_eq!(expired["active=\"0\",component=\"server\""], "2");
    assert_eq!(expired["active=\"0\",component=\"broker\""], "1");
    // 0.28.0 left more than max-age ago: gone. The versions whose nodes expired read 0.
    let versions: Vec<(String, String)> = series(&metrics, "lifecycle_tally_versions")
        .into_iter()
        .collect();
    assert_eq!(
        versions,
        [
            (
                "active=\"0\",component=\"broker\",version=\"1.0.0\"".to_owned(),
                "0".to_owned()
            ),
            (
                "active=\"0\",component=\"server\",version=\"0.29.0\"".to_owned(),
                "0".to_owned()
            ),
            (
                "active=\"0\",component=\"server\",version=\"0.29.4\"".to_owned(),
                "1".to_owned()
            ),
        ]
    );
    // Expired without a shutdown: lost.
    let lost = series(&metrics, "lifecycle_tally_lost_nodes");
    assert_eq!(lost["active=\"0\",component=\"server\""], "2");
    assert_eq!(lost["active=\"0\",component=\"broker\""], "1");
    within(60, "the process error", async {
        loop {
            let metrics = tally.get("/metrics").await.1;
            if series(&metrics, "lifecycle_tally_process_errors_total")
                .get("active=\"0\",component=\"server\"")
                .is_some_and(|v| v == "1")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    promtool_check(&tally.get("/metrics").await.1);
}

/// `promtool check metrics` finds no problem in the exposition.
fn promtool_check(metrics: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool is needed to check the metrics ({e}): install Debian's `prometheus` package (.ci/run does)")
        });
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_tally_has_the_same_counts_at_its_first_scrape() {
    let server = NatsServer::start();
    connect_with_events(&server).await;
    let first = Running::start(&server).await;
    let publisher = connect(&server).await.publisher(Format::CloudEvents);
    let mut sent = script(&publisher).await;
    let more: Vec<Event> = (0..500)
        .map(|i| {
            event(
                EventType::Alive,
                &format!("m{i}"),
                "server",
                ["0.28.0", "0.29.4"][i % 2],
            )
        })
        .collect();
    publisher.publish_all(&more).await.unwrap();
    publisher.flush().await.unwrap();
    sent += more.len() as u64;
    first.wait_for(sent).await;
    let before = first.components().await;
    assert_eq!(before.iter().map(|c| c.nodes).sum::<u64>(), 504);
    drop(first);

    let second = Running::start(&server).await;
    // The first answer it gives is already the whole count.
    let (status, body) = within(60, "the first answer", async {
        loop {
            let (status, body) = second.get("/api/v1/components").await;
            if status != 503 {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(status, 200);
    let after: Vec<ComponentCount> = serde_json::from_str(&body).unwrap();
    assert_eq!(after, before);
}
