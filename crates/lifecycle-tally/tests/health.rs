//! A tally whose broker is away: it serves from the start, says why it is not ready, connects
//! when the broker comes, and says so again while the broker is down.

mod common;

use std::time::Duration;

use common::{get, serve_tally, within};
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Settings};
use lifecycle_tally::{Status, Tally, TallyOptions};
use lifecycle_testsupport::NatsServer;
use tokio::sync::oneshot;

/// Polls `path` until its status is `want`, for at most `secs` seconds; returns the body.
async fn until_status(base: &str, path: &str, want: u16, secs: u64) -> String {
    within(secs, &format!("{path} to answer {want}"), async {
        loop {
            let (status, body) = get(base, path).await;
            if status == want {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// The value of the unlabelled-but-`active` gauge `name`.
fn gauge(metrics: &str, name: &str) -> String {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        .to_owned()
}

async fn status(base: &str) -> Status {
    serde_json::from_str(&get(base, "/api/v1/status").await.1).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_only_while_the_broker_is_there() {
    let mut server = NatsServer::start();
    // With the stream, so the tally replays and then follows it through the outage.
    common::connect_with_events(&server).await;
    server.stop();
    let url = server.url();
    let tally = Tally::new(TallyOptions::default());
    let served = serve_tally(&tally, "lifecycle_tally").await;
    let base = served.base.clone();
    let options = ConnectOptions {
        servers: vec![url.clone()],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tally.clone();
    let run = tokio::spawn(async move {
        running
            .run(&settings, None, async {
                let _ = stopped.await;
            })
            .await
    });

    // No broker: alive, not ready, and the reason names the server.
    assert_eq!(get(&base, "/healthz").await, (200, "ok\n".to_owned()));
    let reason = until_status(&base, "/readyz", 503, 10).await;
    let reason = within(60, "the reason", async {
        let mut reason = reason;
        while !reason.starts_with("broker unreachable: cannot connect to NATS at") {
            tokio::time::sleep(Duration::from_millis(50)).await;
            reason = get(&base, "/readyz").await.1;
        }
        reason
    })
    .await;
    assert!(reason.contains(&url), "{reason}");
    let (code, body) = get(&base, "/metrics").await;
    assert_eq!(code, 503);
    assert!(body.starts_with("warming up: broker unreachable"), "{body}");
    let before = status(&base).await;
    assert!(before.leader && before.broker && !before.connected && !before.ready);

    // The broker comes: ready within seconds.
    server.start_again();
    assert_eq!(until_status(&base, "/readyz", 200, 20).await, "ready\n");
    let metrics = get(&base, "/metrics").await.1;
    assert_eq!(gauge(&metrics, "lifecycle_tally_connected"), "1");
    assert_eq!(gauge(&metrics, "lifecycle_tally_leader"), "1");

    // The broker goes: not ready, counts still served, connected 0.
    server.stop();
    let reason = until_status(&base, "/readyz", 503, 20).await;
    assert_eq!(
        reason,
        format!("broker unreachable: disconnected from {url}, reconnecting\n")
    );
    let (code, metrics) = get(&base, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(gauge(&metrics, "lifecycle_tally_connected"), "0");
    assert!(!status(&base).await.connected);

    // Back on the same port: ready again within seconds, and counting.
    server.start_again();
    until_status(&base, "/readyz", 200, 30).await;
    let publisher = common::connect(&server).await.publisher(Format::Choria);
    let alive = Event::builder(EventType::Alive)
        .identity("n1")
        .component("server")
        .version("0.30.0")
        .build()
        .unwrap();
    within(60, "the event counted", async {
        while tally.fleet().len() != 1 {
            publisher.publish(&alive).await.unwrap();
            publisher.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;

    stop.send(()).unwrap();
    within(60, "the tally to stop", run).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_at_fault_is_an_error_not_a_wait() {
    let options = ConnectOptions {
        servers: vec!["nats://127.0.0.1:1".into()],
        credentials: Some("/nonexistent/lifecycle.creds".into()),
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let tally = Tally::new(TallyOptions::default());
    let error = within(
        10,
        "the error",
        tally.run(&settings, None, std::future::pending()),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/lifecycle.creds"),
        "{error}"
    );
}
