//! `serve` against clients that misbehave: half-open connections, more connections than the
//! cap, slow handlers, and a shutdown with requests under way. Plain TCP on loopback, so the
//! tests see exactly what a client sees.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use lifecycle_http::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

async fn within<T>(secs: u64, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s waiting for {what}"))
}

/// Chunks of `n` bytes, `every` apart, then the end.
fn slow_stream(chunks: usize, every: Duration) -> Body {
    Body::from_stream(futures_util::stream::unfold(0, move |i| async move {
        if i == chunks {
            return None;
        }
        tokio::time::sleep(every).await;
        Some((Ok::<_, std::io::Error>(format!("chunk{i}\n")), i + 1))
    }))
}

/// The test app; `started` counts the requests of `/slow` and `/endless` whose handlers have
/// begun, so a test knows they are under way whatever the machine's load.
fn app(started: Arc<AtomicUsize>) -> Router {
    let endless_started = started.clone();
    Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/slow",
            get(move || async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done\n"
            }),
        )
        .route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never\n"
            }),
        )
        .route(
            "/stream",
            get(|| async { slow_stream(5, Duration::from_millis(150)) }),
        )
        .route(
            "/endless",
            get(move || async move {
                endless_started.fetch_add(1, Ordering::SeqCst);
                slow_stream(usize::MAX, Duration::from_millis(50))
            }),
        )
}

struct Server {
    address: SocketAddr,
    /// Requests of `/slow` and `/endless` under way or done.
    started: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(limits: Limits) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let started = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, app(started.clone()), limits, async {
            let _ = stopped.await;
        }));
        Server {
            address,
            started,
            stop: Some(stop),
            task,
        }
    }
}

/// Sends a GET of `path` that asks to close after the response.
async fn send_get(address: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes: its status and its body.
async fn read_response(mut stream: TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    (
        status.unwrap_or_else(|| panic!("no status in {response:?}")),
        body.to_owned(),
    )
}

async fn fetch(address: SocketAddr, path: &str) -> (u16, String) {
    within(
        10,
        "a response",
        read_response(send_get(address, path).await),
    )
    .await
}

/// Reads (and ignores) what the server sends until it closes the connection.
async fn until_closed(mut stream: TcpStream) {
    let mut buffer = [0; 1024];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            return;
        }
    }
}

/// A connection that sends the start of a request head and never the rest.
async fn half_open(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nX-Never")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn half_open_connections_are_closed_and_others_served_meanwhile() {
    let server = Server::start(Limits {
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut idle = Vec::new();
    for i in 0..40 {
        if i % 4 == 0 {
            // Connected, and not a byte sent.
            idle.push(TcpStream::connect(server.address).await.unwrap());
        } else {
            idle.push(half_open(server.address).await);
        }
    }
    assert_eq!(
        fetch(server.address, "/").await,
        (200, "hello\n".to_owned())
    );
    within(
        30,
        "the server to close all 40 half-open connections",
        async {
            for stream in idle {
                until_closed(stream).await;
            }
        },
    )
    .await;
    assert_eq!(
        fetch(server.address, "/").await,
        (200, "hello\n".to_owned())
    );
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let server = Server::start(Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let first = half_open(server.address).await;
    let _second = half_open(server.address).await;
    let third = send_get(server.address, "/").await;
    let mut third = std::pin::pin!(read_response(third));
    // Two connections are served, the third waits in the accept queue...
    let early = tokio::time::timeout(Duration::from_millis(500), third.as_mut()).await;
    assert!(early.is_err(), "served over the cap: {early:?}");
    // ...until one of the two closes.
    drop(first);
    let answer = within(10, "the third connection to be served", third).await;
    assert_eq!(answer, (200, "hello\n".to_owned()));
}

#[tokio::test]
async fn a_slow_handler_gets_503_but_a_long_stream_goes_on() {
    let server = Server::start(Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let (status, _) = fetch(server.address, "/stuck").await;
    assert_eq!(status, 503);
    // Five chunks over 750 ms: the body is not bounded by the request timeout.
    let (status, body) = fetch(server.address, "/stream").await;
    assert_eq!(status, 200);
    let chunks: Vec<&str> = body.lines().filter(|l| l.starts_with("chunk")).collect();
    assert_eq!(chunks, ["chunk0", "chunk1", "chunk2", "chunk3", "chunk4"]);
}

#[tokio::test]
async fn shutdown_finishes_requests_under_way_then_closes_what_is_left() {
    let mut server = Server::start(Limits {
        shutdown_grace: Duration::from_secs(2),
        ..Limits::default()
    })
    .await;
    let slow = send_get(server.address, "/slow").await;
    let endless = send_get(server.address, "/endless").await;
    // Both requests are under way before shutdown is asked.
    within(10, "both handlers to begin", async {
        while server.started.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    server.stop.take().unwrap().send(()).unwrap();
    let (status, body) = within(10, "the slow request", read_response(slow)).await;
    assert_eq!((status, body.as_str()), (200, "done\n"));
    within(10, "the endless stream to be cut", until_closed(endless)).await;
    within(10, "serve to return", server.task)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(server.address).await.is_err());
}
