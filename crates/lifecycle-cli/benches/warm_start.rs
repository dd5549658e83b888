//! How long `lifecycle tally` takes to be ready after a start, against a bare JetStream
//! consumer reading the same stream in the same run, and how much memory it holds then.
//!
//! `cargo bench -p lifecycle-cli --bench warm_start` (add `-- --rounds 5 --nodes 1000000`)
//!
//! A local nats-server's `CHORIA_EVENTS` gets a startup, an alive and an upgrade for each of
//! `--nodes` nodes. Each round then times, one after the other:
//! - `bare`: an ordered JetStream consumer (async-nats, as the tally reads) from the first
//!   event until it holds the last: the cost of reading the stream at all;
//! - `replay`: `lifecycle tally --no-snapshot` (the release binary) from its start until
//!   `/readyz` answers 200: a full replay;
//! - `snapshot`: `lifecycle tally --snapshot bench`, whose snapshot the round before left
//!   (written at its clean stop), from its start until `/readyz` answers 200;
//!
//! and reads each tally's peak resident memory (`VmHWM`) once it is ready. Then, on a fresh
//! server each, 100,000 new nodes whose startups are stamped in order and in a saw-tooth of
//! clocks up to 10 minutes apart: `replay` times for both.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Connection, EVENTS_STREAM, Settings};
use lifecycle_testsupport::{NatsServer, started};

struct Options {
    rounds: usize,
    nodes: usize,
    clock_nodes: usize,
}

fn options() -> Options {
    use lifecycle_testsupport::{arg as value, flag};
    // `cargo test --benches` runs this with --test: a small smoke run.
    if flag("--test") {
        return Options {
            rounds: 1,
            nodes: 2_000,
            clock_nodes: 1_000,
        };
    }
    Options {
        rounds: value("--rounds").unwrap_or(5),
        nodes: value("--nodes").unwrap_or(1_000_000),
        clock_nodes: value("--clock-nodes").unwrap_or(100_000),
    }
}

async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    Connection::connect(&Settings::resolve_with(&options, None, &[]).unwrap())
        .await
        .unwrap()
}

fn event(kind: EventType, i: usize, timestamp: i64) -> Event {
    Event::builder(kind)
        .identity(format!("node{i:07}.sim.example.net"))
        .component("server")
        .version("0.29.4")
        .new_version("0.30.0")
        .timestamp(timestamp)
        .build()
        .unwrap()
}

/// Publishes `events` and waits until the stream holds `total` messages.
async fn fill(connection: &Connection, events: impl Iterator<Item = Event>, total: u64) {
    let publisher = connection.publisher(Format::Choria);
    let mut batch = Vec::with_capacity(10_000);
    for event in events {
        batch.push(event);
        if batch.len() == batch.capacity() {
            publisher.publish_all(&batch).await.unwrap();
            batch.clear();
            // Let the server store what it has before more comes: a core publisher faster
            // than the stream is dropped as a slow consumer.
            while stored(connection).await + 50_000 < published(connection, total) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    publisher.publish_all(&batch).await.unwrap();
    publisher.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while stored(connection).await < total {
        assert!(Instant::now() < deadline, "the stream never held {total}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Messages published so far by this process's connection.
fn published(connection: &Connection, _total: u64) -> u64 {
    connection
        .client()
        .statistics()
        .out_messages
        .load(std::sync::atomic::Ordering::Relaxed)
}

async fn stored(connection: &Connection) -> u64 {
    connection
        .stream_state(EVENTS_STREAM)
        .await
        .unwrap()
        .map_or(0, |s| s.messages)
}

/// A bare ordered consumer from the first event until it holds `total`.
async fn bare(connection: &Connection, total: u64) -> Duration {
    let started = Instant::now();
    let js = async_nats::jetstream::new(connection.client().clone());
    let stream = js.get_stream(EVENTS_STREAM).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut held = 0;
    while held < total {
        messages.next().await.unwrap().unwrap();
        held += 1;
    }
    started.elapsed()
}

/// A running `lifecycle tally`, killed on drop.
struct TallyProcess {
    child: Child,
    address: String,
}

impl Drop for TallyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_tally(server: &NatsServer, snapshot: Option<&str>) -> TallyProcess {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
    command
        .args(["tally", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--server", &server.url(), "--max-age", "24h"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match snapshot {
        Some(name) => command.args(["--snapshot", name]),
        None => command.arg("--no-snapshot"),
    };
    TallyProcess {
        child: command.spawn().expect("run lifecycle tally"),
        address: format!("127.0.0.1:{port}"),
    }
}

/// The status and body of a GET of `path`, if it answers.
fn get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    std::io::Write::write_all(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Starts a tally and times it from its start until it is ready; its peak memory then.
/// The tally must then hold all `nodes`.
fn until_ready(
    server: &NatsServer,
    snapshot: Option<&str>,
    nodes: usize,
) -> (Duration, f64, TallyProcess) {
    let started = Instant::now();
    let tally = start_tally(server, snapshot);
    let deadline = started + Duration::from_secs(1200);
    while get(&tally.address, "/readyz").map(|(status, _)| status) != Some(200) {
        assert!(Instant::now() < deadline, "the tally was never ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = started.elapsed();
    let peak = peak_mib(tally.child.id());
    let (_, status) = get(&tally.address, "/api/v1/status").expect("the status");
    assert!(
        status.contains(&format!("\"up\":{nodes},")),
        "ready without its {nodes} nodes: {status}"
    );
    (took, peak, tally)
}

/// `VmHWM` of process `pid`, in MiB.
fn peak_mib(pid: u32) -> f64 {
    lifecycle_testsupport::memory_mib(&pid.to_string(), "VmHWM")
}

/// Stops a tally cleanly (SIGTERM), so it writes its snapshot; waits for it.
fn stop(mut tally: TallyProcess) {
    Command::new("kill")
        .args(["-TERM", &tally.child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while tally.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the tally did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn median_and_range(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn report(what: &str, unit: &str, values: &mut [f64]) {
    let (median, low, high) = median_and_range(values);
    println!("{what:<44} median {median:>9.2} {unit}  range {low:.2}-{high:.2} {unit}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = options();
    let now = lifecycle_core::clock::now();
    println!(
        "warm start: {} nodes (3 events each), {} rounds; load {}",
        options.nodes,
        options.rounds,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let (server, connection) = started().await;
    connection
        .ensure_events_stream(Duration::from_secs(24 * 3600))
        .await
        .unwrap();
    let total = 3 * options.nodes as u64;
    let filling = Instant::now();
    let nodes = options.nodes;
    let events = [EventType::Startup, EventType::Alive, EventType::Upgraded]
        .into_iter()
        .flat_map(move |kind| (0..nodes).map(move |i| event(kind, i, now)));
    fill(&connection, events, total).await;
    println!(
        "stream filled with {total} events in {:?}",
        filling.elapsed()
    );

    // The first snapshot, for the first round's `snapshot` start.
    let (_, _, tally) =
        tokio::task::block_in_place(|| until_ready(&server, Some("bench"), options.nodes));
    tokio::task::block_in_place(|| stop(tally));

    let (mut bares, mut replays, mut snapshots) = (Vec::new(), Vec::new(), Vec::new());
    let (mut replay_peaks, mut snapshot_peaks, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=options.rounds {
        let bare = bare(&connection, total).await.as_secs_f64();
        let (replay, replay_peak, tally) =
            tokio::task::block_in_place(|| until_ready(&server, None, options.nodes));
        drop(tally);
        let (snapshot, snapshot_peak, tally) =
            tokio::task::block_in_place(|| until_ready(&server, Some("bench"), options.nodes));
        tokio::task::block_in_place(|| stop(tally));
        println!(
            "round {round}: bare {bare:.2} s, replay {:.2} s ({replay_peak:.1} MiB), snapshot {:.2} s ({snapshot_peak:.1} MiB)",
            replay.as_secs_f64(),
            snapshot.as_secs_f64()
        );
        ratios.push(snapshot.as_secs_f64() / bare);
        bares.push(bare);
        replays.push(replay.as_secs_f64());
        snapshots.push(snapshot.as_secs_f64());
        replay_peaks.push(replay_peak);
        snapshot_peaks.push(snapshot_peak);
    }
    report("bare consumer, whole stream", "s", &mut bares);
    report("tally ready, full replay", "s", &mut replays);
    report("tally ready, from its snapshot", "s", &mut snapshots);
    report("snapshot start / bare consumer", "x", &mut ratios);
    report("tally peak RSS, full replay", "MiB", &mut replay_peaks);
    report(
        "tally peak RSS, from its snapshot",
        "MiB",
        &mut snapshot_peaks,
    );

    // 100,000 new nodes, clocks in order and in a saw-tooth: a fresh server each time.
    let (mut ordered, mut sawed) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        for (saw, times) in [(false, &mut ordered), (true, &mut sawed)] {
            let server = NatsServer::start();
            let connection = connect(&server).await;
            connection
                .ensure_events_stream(Duration::from_secs(24 * 3600))
                .await
                .unwrap();
            let n = options.clock_nodes;
            let stamp = move |i: usize| {
                if saw {
                    now + (i % 1_200) as i64 - 600
                } else {
                    now - 600 + (i * 600 / n) as i64
                }
            };
            fill(
                &connection,
                (0..n).map(|i| event(EventType::Startup, i, stamp(i))),
                n as u64,
            )
            .await;
            let (took, _, tally) = tokio::task::block_in_place(|| until_ready(&server, None, n));
            drop(tally);
            times.push(took.as_secs_f64());
        }
    }
    let (in_order, _, _) = median_and_range(&mut ordered.clone());
    report(
        &format!("{} new nodes, clocks in order", options.clock_nodes),
        "s",
        &mut ordered,
    );
    report(
        &format!("{} new nodes, clocks in a saw-tooth", options.clock_nodes),
        "s",
        &mut sawed,
    );
    let (saw_tooth, _, _) = median_and_range(&mut sawed);
    println!(
        "saw-tooth {saw_tooth:.2} s against the bound of twice in order plus a second: {:.2} s",
        2.0 * in_order + 1.0
    );
}
