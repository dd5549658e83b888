//! `/metrics` latency while five clients list a million nodes, page after page, over and
//! over (issue 11: with one-body listings, five at once pushed `/metrics` to 12 s).
//!
//! A tally of 1,000,000 nodes is served on loopback with the default limits. First a
//! `/metrics` scrape every 20 ms with nothing else going on (the baseline), then the same
//! scrapes every 100 ms while five clients page through `/api/v1/nodes` in full, again and
//! again. Prints per run the scrape latency (median, p99, max) of both, and the listing
//! throughput. Server and clients run in separate runtimes, two threads each.
//!
//! `cargo bench -p lifecycle-tally --bench paging [-- --runs N --seconds S]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lifecycle_core::{AnyEvent, Event, EventType};
use lifecycle_tally::{Limits, Tally, TallyOptions, router, serve};

const LISTERS: usize = 5;

struct Settings {
    nodes: usize,
    runs: usize,
    loaded: Duration,
    idle_scrapes: usize,
}

impl Settings {
    fn from_args() -> Settings {
        let value = lifecycle_testsupport::arg::<u64>;
        // `cargo bench` passes --bench; `cargo test --benches` does not, and there a small
        // fleet is enough to show the harness works.
        if !lifecycle_testsupport::flag("--bench") {
            return Settings {
                nodes: 20_000,
                runs: 1,
                loaded: Duration::from_secs(1),
                idle_scrapes: 10,
            };
        }
        Settings {
            nodes: 1_000_000,
            runs: value("--runs").unwrap_or(3) as usize,
            loaded: Duration::from_secs(value("--seconds").unwrap_or(20)),
            idle_scrapes: 100,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Median, p99 and max of `samples`, in milliseconds.
fn summary(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1e3
    };
    format!(
        "median {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} scrapes)",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    )
}

async fn scrape(client: &reqwest::Client, base: &str) -> Duration {
    let start = Instant::now();
    let response = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("/metrics answers");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("a /metrics body");
    assert!(!body.is_empty());
    start.elapsed()
}

/// The `next_cursor` at the end of a page, without parsing the page: `"next_cursor":"123"}`
/// or `"next_cursor":null}`.
fn next_cursor(page: &str) -> Option<&str> {
    let tail = &page[page.rfind("\"next_cursor\":")? + "\"next_cursor\":".len()..];
    tail.strip_prefix('"')?.split('"').next()
}

#[derive(Default)]
struct Listed {
    pages: AtomicU64,
    nodes: AtomicU64,
    bytes: AtomicU64,
    listings: AtomicU64,
}

/// Pages through every node, again and again, until `stop`.
async fn list(base: String, stop: Arc<AtomicBool>, listed: Arc<Listed>, expected: usize) {
    let client = reqwest::Client::new();
    while !stop.load(Ordering::Relaxed) {
        let mut cursor: Option<String> = None;
        let mut nodes = 0;
        loop {
            let url = match &cursor {
                Some(cursor) => format!("{base}/api/v1/nodes?cursor={cursor}"),
                None => format!("{base}/api/v1/nodes"),
            };
            let page = client
                .get(url)
                .send()
                .await
                .expect("a page")
                .text()
                .await
                .expect("a page's body");
            let count = page.matches("\"identity\":").count();
            nodes += count;
            listed.pages.fetch_add(1, Ordering::Relaxed);
            listed.nodes.fetch_add(count as u64, Ordering::Relaxed);
            listed.bytes.fetch_add(page.len() as u64, Ordering::Relaxed);
            match next_cursor(&page) {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
        assert_eq!(nodes, expected, "a full listing");
        listed.listings.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    let settings = Settings::from_args();
    let tally = Tally::new(TallyOptions::default());
    let built = Instant::now();
    for i in 0..settings.nodes {
        let event = Event::builder(EventType::Alive)
            .identity(format!("node{i}.example.net"))
            .component(["server", "broker"][i % 2])
            .version(["0.28.0", "0.29.4", "0.30.0"][i % 3])
            .build()
            .expect("a valid event");
        tally.observe(&AnyEvent::Lifecycle(event));
    }
    tally.set_ready(true);
    tally.metrics().set_active(true);
    eprintln!(
        "a tally of {} nodes, built in {:.1?}",
        tally.fleet().len(),
        built.elapsed()
    );

    let server = runtime();
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    let app = router(tally.clone(), "lifecycle_tally");
    server.spawn(serve(
        listener,
        app,
        Limits::default(),
        std::future::pending(),
    ));

    let clients = runtime();
    for run in 1..=settings.runs {
        clients.block_on(async {
            let scraper = reqwest::Client::new();
            let mut idle = Vec::with_capacity(settings.idle_scrapes);
            for _ in 0..settings.idle_scrapes {
                idle.push(scrape(&scraper, &base).await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!("run {run}: /metrics, idle:                   {}", summary(&mut idle));

            let stop = Arc::new(AtomicBool::new(false));
            let listed = Arc::new(Listed::default());
            let listers: Vec<_> = (0..LISTERS)
                .map(|_| {
                    tokio::spawn(list(
                        base.clone(),
                        stop.clone(),
                        listed.clone(),
                        settings.nodes,
                    ))
                })
                .collect();
            let start = Instant::now();
            let mut loaded = Vec::new();
            while start.elapsed() < settings.loaded {
                loaded.push(scrape(&scraper, &base).await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            stop.store(true, Ordering::Relaxed);
            let took = start.elapsed().as_secs_f64();
            for lister in listers {
                lister.await.expect("a lister");
            }
            println!(
                "run {run}: /metrics, {LISTERS} clients listing: {}",
                summary(&mut loaded)
            );
            let pages = listed.pages.load(Ordering::Relaxed) as f64;
            let nodes = listed.nodes.load(Ordering::Relaxed) as f64;
            let bytes = listed.bytes.load(Ordering::Relaxed) as f64;
            println!(
                "run {run}: listing: {:.0} pages/s, {:.2} M nodes/s, {:.0} MB/s over {LISTERS} clients; {} full listings of {} nodes in {took:.1} s",
                pages / took,
                nodes / took / 1e6,
                bytes / took / 1e6,
                listed.listings.load(Ordering::Relaxed),
                settings.nodes,
            );
        });
    }
}
