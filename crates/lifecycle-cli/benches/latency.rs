//! Latency from emitting an event to the line `lifecycle view` prints for it, on a local
//! nats-server: median and 99th percentile.
//!
//! `cargo bench -p lifecycle-cli --bench latency`
//!
//! One `lifecycle view` runs (the built release binary, default display lines, stdout a
//! pipe). Events are sent one at a time, each after the line of the one before was read:
//! - by a `lifecycle_nats::Publisher` in this process (publish and flush), which is the
//!   latency of the path broker → view → stdout;
//! - by running `lifecycle emit` itself, timed from spawning the process, which adds a
//!   process start, connection and flush to every event, as a shell script would pay.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Connection, Settings};
use lifecycle_testsupport::NatsServer;

const LIBRARY_EVENTS: usize = 2_000;
const EMIT_EVENTS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs this with --test: a smoke run is enough there.
    let smoke = std::env::args().any(|a| a == "--test");
    let (library_events, emit_events) = if smoke {
        (5, 2)
    } else {
        (LIBRARY_EVENTS, EMIT_EVENTS)
    };
    let server = NatsServer::start();
    let binary = env!("CARGO_BIN_EXE_lifecycle");
    let mut view = Command::new(binary)
        .args(["view", "-v", "--server", &server.url()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lifecycle view");
    let lines = lines_of(view.stdout.take().unwrap());
    let diagnostics = lines_of(view.stderr.take().unwrap());
    loop {
        let line = diagnostics
            .recv_timeout(Duration::from_secs(20))
            .expect("lifecycle view subscribes");
        if line.contains("receiving events") {
            break;
        }
    }

    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let connection = Connection::connect(&settings).await.unwrap();
    let publisher = connection.publisher(Format::Choria);
    let mut library = Vec::with_capacity(library_events);
    for i in 0..library_events {
        let identity = format!("lib{i}.example.net");
        let event = Event::builder(EventType::Alive)
            .identity(&identity)
            .component("server")
            .version("0.29.4")
            .build()
            .unwrap();
        let start = Instant::now();
        publisher.publish(&event).await.unwrap();
        publisher.flush().await.unwrap();
        let line = tokio::task::block_in_place(|| next_line(&lines));
        library.push(start.elapsed());
        assert!(line.contains(&format!("[alive] {identity}: ")), "{line}");
    }

    let mut emitted = Vec::with_capacity(emit_events);
    for i in 0..emit_events {
        let identity = format!("emit{i}.example.net");
        let start = Instant::now();
        let mut emit = Command::new(binary)
            .args([
                "emit",
                "alive",
                "--component",
                "server",
                "--version",
                "0.29.4",
            ])
            .args(["--identity", &identity, "--server", &server.url()])
            .stdout(Stdio::null())
            .spawn()
            .expect("run lifecycle emit");
        let line = tokio::task::block_in_place(|| next_line(&lines));
        emitted.push(start.elapsed());
        assert!(line.contains(&format!("[alive] {identity}: ")), "{line}");
        assert!(emit.wait().unwrap().success());
    }
    let _ = view.kill();
    let _ = view.wait();

    println!("emit -> line printed by `lifecycle view`, local nats-server, one event at a time:");
    report("library publish + flush", &mut library);
    report("`lifecycle emit` process", &mut emitted);
}

fn lines_of(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn next_line(lines: &mpsc::Receiver<String>) -> String {
    lines
        .recv_timeout(Duration::from_secs(10))
        .expect("lifecycle view prints the event")
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {what:<28} n={:<5} median {:>8.1} µs   p99 {:>8.1} µs   max {:>8.1} µs",
        samples.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6,
    );
}
