//! The live feed (`/api/v1/events`, Server-Sent Events) and the dashboard: filtered clients
//! get exactly their events, in order and byte for byte, fed in process or through a real
//! nats-server; bad filters, lagging clients and the embedded assets.

mod common;

use std::time::Duration;

use common::{connect, get, serve_tally, within};
use lifecycle_core::{
    AnyEvent, Event, EventType, Format, GovernorEventType, MachineEvent, Transition,
};
use lifecycle_tally::{Limits, Tally, TallyOptions, router, serve};
use lifecycle_testsupport::{NatsServer, docker_check, encode_query};
use tokio::sync::oneshot;

fn events_url(base: &str, filter: Option<&str>) -> String {
    match filter {
        Some(filter) => format!("{base}/api/v1/events?filter={}", encode_query(filter)),
        None => format!("{base}/api/v1/events"),
    }
}

/// One SSE message, its fields as received.
#[derive(Debug, Default, PartialEq, Eq)]
struct Message {
    comments: Vec<String>,
    event: Option<String>,
    id: Option<String>,
    data: Vec<String>,
}

/// A feed client reading SSE by hand, to see exactly what is on the wire.
struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    /// Connects and waits for `: ready`, after which nothing is missed.
    async fn open(base: &str, filter: Option<&str>) -> SseClient {
        let response = within(
            10,
            "the feed to answer",
            reqwest::get(events_url(base, filter)),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "filter {filter:?}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "text/event-stream");
        let mut client = SseClient {
            response,
            buffer: String::new(),
        };
        let first = client.next().await;
        assert_eq!(first.comments, ["ready"], "{first:?}");
        assert_eq!((first.event, first.id, first.data.len()), (None, None, 0));
        client
    }

    /// The next message, keep-alives included.
    async fn next(&mut self) -> Message {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return parse(&block[..end]);
            }
            let chunk = within(60, "an SSE message", self.response.chunk())
                .await
                .unwrap()
                .expect("the feed ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The messages up to and including the one with id `last`, keep-alives left out.
    async fn until(&mut self, last: &str) -> Vec<Message> {
        let mut messages = Vec::new();
        loop {
            let message = self.next().await;
            if message.event.is_none() && message.data.is_empty() {
                continue; // a comment: keep-alive
            }
            let done = message.id.as_deref() == Some(last);
            messages.push(message);
            if done {
                return messages;
            }
        }
    }
}

fn parse(block: &str) -> Message {
    let mut message = Message::default();
    for line in block.split('\n') {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "" => message.comments.push(value),
            "event" => message.event = Some(value),
            "id" => message.id = Some(value),
            "data" => message.data.push(value),
            other => panic!("unexpected SSE field {other:?} in {block:?}"),
        }
    }
    message
}

/// What a client must have received for `events`: each as id and Choria JSON, nothing else.
fn expected(events: &[&AnyEvent]) -> Vec<Message> {
    events
        .iter()
        .map(|e| Message {
            id: Some(e.id().to_owned()),
            data: vec![String::from_utf8(e.to_json()).unwrap()],
            ..Default::default()
        })
        .collect()
}

fn lifecycle(
    event_type: EventType,
    identity: &str,
    component: &str,
    version: Option<&str>,
) -> AnyEvent {
    let mut builder = Event::builder(event_type)
        .identity(identity)
        .component(component);
    if let Some(version) = version {
        builder = builder.version(version);
    }
    AnyEvent::Lifecycle(builder.build().unwrap())
}

/// A mixed fleet: types, versions, components, machine events.
fn mixed() -> Vec<AnyEvent> {
    use EventType::*;
    vec![
        /* 0 */ lifecycle(Startup, "web1.example.net", "server", Some("0.29.4")),
        /* 1 */ lifecycle(Alive, "web1.example.net", "server", Some("0.29.4")),
        /* 2 */ lifecycle(Alive, "web2.example.net", "server", Some("0.28.0")),
        /* 3 */ lifecycle(Alive, "db1.example.net", "broker", Some("0.29.4")),
        /* 4 */ lifecycle(Shutdown, "web1.example.net", "server", None),
        /* 5 */
        AnyEvent::Lifecycle(
            Event::builder(Upgraded)
                .identity("web3.example.net")
                .component("server")
                .version("0.28.0")
                .new_version("0.29.4")
                .build()
                .unwrap(),
        ),
        /* 6 */
        AnyEvent::Lifecycle(
            Event::builder(Governor)
                .identity("web1.example.net")
                .component("server")
                .governor("upgrades")
                .sequence(3)
                .governor_event(GovernorEventType::Enter)
                .build()
                .unwrap(),
        ),
        /* 7 */
        AnyEvent::from(MachineEvent::Transition(Transition::new(
            "web2.example.net",
            "m-1",
            "1.0.0",
            1_700_000_000,
            "Docker",
            "deploy",
            "absent",
            "running",
        ))),
        /* 8 */
        docker_check(
            "db1.example.net",
            "m-2",
            1_700_000_000,
            "success",
            2_000_000,
        ),
        /* 9 */ lifecycle(Alive, "web10.example.net", "server", Some("0.100.0")),
        /* 10: the sentinel, which every filter below passes */
        lifecycle(Alive, "web9.example.net", "server", Some("0.29.4")),
    ]
}

#[tokio::test]
async fn filtered_clients_get_exactly_their_events_in_order() {
    let tally = Tally::new(TallyOptions::default());
    tally.set_ready(true);
    let served = serve_tally(&tally, "t").await;

    let mut alive_0294 = SseClient::open(&served.base, Some("alive,version=0.29.4")).await;
    let web_new = ".version>=0.29.0, identity=web*.example.net";
    let mut web_new_versions = SseClient::open(&served.base, Some(web_new)).await;
    let mut everything = SseClient::open(&served.base, None).await;
    let mut empty_filter = SseClient::open(&served.base, Some("")).await;
    assert_eq!(tally.feed_listeners(), 4);

    let events = mixed();
    for event in &events {
        tally.observe(event);
    }
    let sentinel = events.last().unwrap().id();
    let pick =
        |indices: &[usize]| expected(&indices.iter().map(|&i| &events[i]).collect::<Vec<_>>());

    assert_eq!(alive_0294.until(sentinel).await, pick(&[1, 3, 10]));
    assert_eq!(
        web_new_versions.until(sentinel).await,
        pick(&[0, 1, 7, 9, 10])
    );
    let all: Vec<usize> = (0..events.len()).collect();
    assert_eq!(everything.until(sentinel).await, pick(&all));
    assert_eq!(empty_filter.until(sentinel).await, pick(&all));

    // Counted before it reached the feed.
    let (status, body) = get(
        &served.base,
        "/api/v1/nodes?component=server&version=0.29.4",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""identity":"web9.example.net""#), "{body}");

    // A client that leaves is no longer fed.
    drop(everything);
    within(60, "the feed to notice a client left", async {
        while tally.feed_listeners() != 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_filtered_client_gets_exactly_its_events_through_a_broker() {
    let server = NatsServer::start();
    let tally = Tally::new(TallyOptions::default());
    let connection = connect(&server).await;
    let (stop_ingest, ingest_stopped) = oneshot::channel::<()>();
    let ingesting = tally.clone();
    let ingest = tokio::spawn(async move {
        ingesting
            .ingest(&connection, async {
                let _ = ingest_stopped.await;
            })
            .await
    });
    let served = serve_tally(&tally, "t").await;
    // The feed does not wait for the warm start; the events below only for ingest to listen.
    let mut client = SseClient::open(&served.base, Some("alive,version=0.29.4")).await;
    within(60, "the tally to be ready", async {
        while !tally.is_ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Lifecycle events only: one subject tree keeps the broker's order.
    let events: Vec<AnyEvent> = mixed()
        .into_iter()
        .filter(|e| e.as_machine().is_none())
        .collect();
    let publisher = connect(&server).await.publisher(Format::Choria);
    for event in &events {
        within(60, "a publish", publisher.publish_any(event))
            .await
            .unwrap();
    }
    within(60, "a flush", publisher.flush()).await.unwrap();

    let sentinel = events.last().unwrap();
    let received = client.until(sentinel.id()).await;
    let matching: Vec<&AnyEvent> = events
        .iter()
        .filter(|e| {
            e.type_name() == "alive" && e.as_lifecycle().and_then(|l| l.version()) == Some("0.29.4")
        })
        .collect();
    assert_eq!(matching.len(), 3);
    assert_eq!(received, expected(&matching));

    stop_ingest.send(()).unwrap();
    within(60, "ingest to stop", ingest).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_malformed_filter_is_refused_with_its_position() {
    let tally = Tally::new(TallyOptions::default());
    let served = serve_tally(&tally, "t").await;
    let filter = "alive,colour=red";
    let error = lifecycle_core::Filter::parse(filter).unwrap_err();
    let response = within(
        10,
        "an answer",
        reqwest::get(events_url(&served.base, Some(filter))),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = within(60, "a body", response.text()).await.unwrap();
    assert_eq!(body, format!("invalid filter: {error}\n"));
    assert!(
        body.contains(&error.position().unwrap().to_string()),
        "{body}"
    );
    assert_eq!(tally.feed_listeners(), 0);
}

#[tokio::test]
async fn the_feed_is_served_while_warming_up() {
    let tally = Tally::new(TallyOptions::default());
    let served = serve_tally(&tally, "t").await;
    assert_eq!(get(&served.base, "/api/v1/components").await.0, 503);
    let mut client = SseClient::open(&served.base, None).await;
    let event = lifecycle(EventType::Alive, "n1", "server", Some("1.0.0"));
    tally.observe(&event);
    assert_eq!(client.until(event.id()).await, expected(&[&event]));
}

/// On a current-thread runtime nothing else runs while the test observes without awaiting,
/// so the client falls behind by exactly what its budget cannot hold.
#[tokio::test(flavor = "current_thread")]
async fn a_lagging_client_is_told_how_many_it_missed() {
    // Events of one size (identities of one length): the budget holds exactly 100.
    let events: Vec<AnyEvent> = (0..125)
        .map(|i| {
            lifecycle(
                EventType::Alive,
                &format!("n{i:04}"),
                "server",
                Some("1.0.0"),
            )
        })
        .collect();
    let size = events[0].to_json().len();
    let tally = Tally::new(TallyOptions {
        feed_budget: 100 * size,
        ..Default::default()
    });
    tally.set_ready(true);
    let served = serve_tally(&tally, "t").await;
    let mut client = SseClient::open(&served.base, None).await;
    for event in &events {
        tally.observe(event);
    }
    // The 101st found the client's queue full: the 100 it held were dropped.
    assert_eq!(tally.feed_buffered_bytes(), 25 * size);
    let received = client.until(events.last().unwrap().id()).await;
    assert_eq!(
        received[0],
        Message {
            event: Some("lagged".into()),
            data: vec!["100".into()],
            ..Default::default()
        }
    );
    let kept: Vec<&AnyEvent> = events[100..].iter().collect();
    assert_eq!(received[1..], expected(&kept));
}

/// A client that connects to the feed and never reads: the server writes until the socket
/// is full, then the tally holds at most the budget for it and drops the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_costs_at_most_its_budget() {
    const BUDGET: usize = 256 * 1024;
    let tally = Tally::new(TallyOptions {
        feed_budget: BUDGET,
        ..Default::default()
    });
    tally.set_ready(true);
    let served = serve_tally(&tally, "t").await;
    let address = served.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive window, so the server's writes stop early.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(address).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stalled
        .write_all(b"GET /api/v1/events HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    within(60, "the client to subscribe", async {
        while tally.feed_listeners() != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // 8 KiB events, 48 MiB in all: more than any socket buffers hold.
    let padding = "x".repeat(8 * 1024);
    let mut most = 0;
    for i in 0..6_000 {
        // Long names are refused as nodes; a governor's name is not one, and is counted.
        let governor = Event::builder(EventType::Governor)
            .identity(format!("n{i}"))
            .component("server")
            .governor(&padding)
            .sequence(1)
            .governor_event(lifecycle_core::GovernorEventType::Enter)
            .build()
            .unwrap();
        tally.observe(&AnyEvent::Lifecycle(governor));
        most = most.max(tally.feed_buffered_bytes());
        if i % 500 == 0 {
            // Let the server write what the socket takes.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(most <= BUDGET, "held {most} bytes for one client");
    assert!(tally.feed_dropped() > 0, "the client never fell behind");
    let metrics = get(&served.base, "/metrics").await.1;
    let held = metrics
        .lines()
        .find_map(|l| l.strip_prefix("t_feed_buffered_bytes{active=\"0\"} "))
        .unwrap_or_else(|| panic!("no feed_buffered_bytes in {metrics}"));
    assert!(held.parse::<usize>().unwrap() <= BUDGET, "{held}");
    drop(stalled);
}

#[tokio::test]
async fn the_dashboard_is_embedded_and_uses_no_cdn() {
    let tally = Tally::new(TallyOptions::default());
    let served = serve_tally(&tally, "t").await;
    let cases = [
        (
            "/",
            "text/html; charset=utf-8",
            "<script src=\"assets/app.js\"",
        ),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "data-component",
        ),
        (
            "/assets/style.css",
            "text/css; charset=utf-8",
            "prefers-color-scheme",
        ),
    ];
    for (path, content_type, contains) in cases {
        let response = within(
            10,
            "an answer",
            reqwest::get(format!("{}{path}", served.base)),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let body = within(60, "a body", response.text()).await.unwrap();
        assert!(body.contains(contains), "{path} lacks {contains}");
        for scheme in ["http://", "https://", "//cdn", "src=\"//", "href=\"//"] {
            assert!(!body.contains(scheme), "{path} refers to {scheme}");
        }
        // Identities, components and versions come from whoever publishes: the page
        // writes them as text, never as markup.
        for markup in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!body.contains(markup), "{path} uses {markup}");
        }
    }
    assert_eq!(get(&served.base, "/assets/nope.js").await.0, 404);
}

#[tokio::test]
async fn shutting_down_ends_open_feeds() {
    let tally = Tally::new(TallyOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        router(tally.clone(), "t"),
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut client = SseClient::open(&base, None).await;
    stop.send(()).unwrap();
    within(60, "the server to stop", server)
        .await
        .unwrap()
        .unwrap();
    let end = within(60, "the feed to end", client.response.chunk()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
}
