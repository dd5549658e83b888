//! `lifecycle demo` as a newcomer runs it: one command, a dashboard that fills up, Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Process;

/// A running demo, killed on drop; its stdout lines arrive on `lines`.
struct Demo {
    process: Process,
    lines: mpsc::Receiver<String>,
}

impl Demo {
    fn start(extra: &[&str]) -> Demo {
        // The integration tests find nats-server on PATH (lifecycle-testsupport says how to
        // install it); the demo looks for it there too.
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .args(["demo", "--port", "0", "--nodes", "800"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Demo {
            process: Process(child),
            lines,
        }
    }

    /// The guide the demo prints, up to its last line.
    fn guide(&self) -> Vec<String> {
        let mut guide = Vec::new();
        while guide
            .last()
            .is_none_or(|l: &String| !l.starts_with("Ctrl-C"))
        {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the demo printed its guide; so far: {guide:#?}"));
            guide.push(line);
        }
        guide
    }

    /// Ctrl-C; its exit code once it has exited.
    fn stop(&mut self) -> Option<i32> {
        self.stop_with("-INT")
    }

    /// Sends `signal`; its exit code once it has exited.
    fn stop_with(&mut self, signal: &str) -> Option<i32> {
        self.process.signal(signal);
        self.process.wait(Duration::from_secs(60))
    }
}

/// The value after `label` in the guide.
fn field<'a>(guide: &'a [String], label: &str) -> &'a str {
    guide
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default())
        .unwrap_or_else(|| panic!("no {label} in {guide:#?}"))
}

/// How many commands the guide gives to try.
fn to_try(guide: &[String]) -> usize {
    let after = guide
        .iter()
        .skip_while(|l| !l.starts_with("Try in another terminal"));
    after.skip(1).take_while(|l| l.starts_with("  ")).count()
}

/// A GET of `http://host:port/path`.
fn get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (address, path) = rest.split_once('/').unwrap_or((rest, ""));
    common::get(address, &format!("/{path}"))
}

/// Waits until the dashboard's API counts every simulated server and broker, and the
/// upgrade has reached some of them.
fn wait_for_the_fleet(dashboard: &str) {
    let url = format!("{dashboard}api/v1/components");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        last = get(&url);
        if let Some((200, body)) = &last {
            let components: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
            let component = |name: &str| {
                let found = components.iter().find(|c| c["component"] == name);
                found.cloned().unwrap_or_default()
            };
            let (server, broker) = (component("server"), component("broker"));
            let nodes = |c: &serde_json::Value| c["nodes"].as_u64().unwrap_or(0);
            // A server or two may be restarting.
            let all_up = nodes(&broker) == 5 && nodes(&server) >= 795;
            if all_up && server["versions"]["0.30.0"].as_u64() > Some(0) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the demo's fleet never showed up: {last:?}");
}

#[test]
fn the_demo_runs_a_fleet_through_its_own_broker_and_stops_everything_on_ctrl_c() {
    let mut demo = Demo::start(&[]);
    let guide = demo.guide();
    let dashboard = field(&guide, "dashboard");
    let broker = field(&guide, "broker");
    assert!(broker.starts_with("nats://127.0.0.1:"), "{guide:#?}");
    let commands: Vec<&String> = guide.iter().filter(|l| l.starts_with("  ")).collect();
    assert!(
        commands
            .iter()
            .any(|l| l.contains(" view --server nats://")),
        "{guide:#?}"
    );
    assert_eq!(to_try(&guide), 3, "three commands to try: {guide:#?}");
    wait_for_the_fleet(dashboard);
    let (status, page) = get(dashboard).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<html"));

    assert_eq!(demo.stop(), Some(0), "the demo exits cleanly on Ctrl-C");
    let port = broker.rsplit(':').next().unwrap();
    assert!(
        TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "its nats-server stopped with it"
    );
}

#[test]
fn without_a_broker_the_demo_counts_in_process() {
    let mut demo = Demo::start(&["--no-broker"]);
    let guide = demo.guide();
    assert!(field(&guide, "broker").starts_with("none"), "{guide:#?}");
    assert_eq!(to_try(&guide), 3, "three commands to try: {guide:#?}");
    wait_for_the_fleet(field(&guide, "dashboard"));
    assert_eq!(demo.stop(), Some(0));
}

/// SIGTERM (`kill`, a CI runner cancelling a job) stops everything as Ctrl-C does.
#[test]
fn the_demo_stops_everything_on_sigterm_with_0() {
    let mut demo = Demo::start(&[]);
    let guide = demo.guide();
    let (status, _) = get(field(&guide, "dashboard")).unwrap();
    assert_eq!(status, 200);
    let broker = field(&guide, "broker");
    assert!(broker.starts_with("nats://127.0.0.1:"), "{guide:#?}");
    assert_eq!(
        demo.stop_with("-TERM"),
        Some(0),
        "the demo exits cleanly on SIGTERM"
    );
    let port = broker.rsplit(':').next().unwrap();
    assert!(
        TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "its nats-server stopped with it"
    );
}
