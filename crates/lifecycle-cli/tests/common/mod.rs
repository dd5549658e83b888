//! Shared by the tests that run the `lifecycle` binary: its processes, and plain HTTP to them.

// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle_testsupport::NatsServer;

/// A child process, killed on drop even when a test fails.
pub(crate) struct Process(pub(crate) Child);

impl Process {
    /// Sends `signal` (`-TERM`, `-INT`, `-KILL`).
    pub(crate) fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .unwrap();
    }

    /// Its exit code, once it has exited within `within`.
    pub(crate) fn wait(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `lifecycle` command serving HTTP, at the address it announced on stderr.
pub(crate) struct Serving {
    pub(crate) process: Process,
    /// `host:port`.
    pub(crate) address: String,
    /// Every line it wrote to stderr so far.
    pub(crate) stderr: Arc<Mutex<Vec<String>>>,
}

impl Serving {
    /// Runs `lifecycle ARGS` and waits for the stderr line that starts with `announcement`
    /// and goes on with `host:port/...`.
    pub(crate) fn start(args: &[&str], announcement: &str) -> Serving {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = child.stderr.take().unwrap();
        let process = Process(child);
        let wanted = announcement.to_owned();
        let (found, rx) = std::sync::mpsc::channel();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let kept = stderr.clone();
        // Reads to the end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(lines).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(&wanted) {
                    let _ = found.send(rest.split('/').next().unwrap_or_default().to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let address = rx
            .recv_timeout(RUN_LIMIT)
            .unwrap_or_else(|_| panic!("lifecycle {args:?} never said {announcement:?}"));
        Serving {
            process,
            address,
            stderr,
        }
    }

    /// Waits, at most `within`, until `/readyz` answers 200.
    pub(crate) fn wait_ready(&self, within: Duration) {
        wait_until("readiness", within, || {
            self.get("/readyz").is_some_and(|(status, _)| status == 200)
        });
    }

    /// Waits, at most `within`, until `path` answers with `body`.
    pub(crate) fn wait_for_body(&self, path: &str, body: &str, within: Duration) {
        wait_until(&format!("{path} to say {body}"), within, || {
            self.get(path).is_some_and(|(_, got)| got == body)
        });
    }

    /// `lifecycle tally` on a free port, counting from `server`.
    pub(crate) fn tally(server: &NatsServer, extra: &[&str]) -> Serving {
        let url = server.url();
        let mut args = vec!["tally", "--listen", "127.0.0.1:0", "--server", &url];
        args.extend_from_slice(extra);
        Serving::start(&args, "lifecycle tally: serving http://")
    }

    pub(crate) fn get(&self, path: &str) -> Option<(u16, String)> {
        get(&self.address, path)
    }
}

/// A plain HTTP/1.1 GET of `path` from `address` (`host:port`): the status and the body.
/// The Host header is the address, as chromedriver requires.
pub(crate) fn get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // Read to the end, or to Content-Length: chromedriver keeps the connection open.
    let mut response = Vec::new();
    let mut buffer = [0; 16 * 1024];
    loop {
        let n = stream.read(&mut buffer).ok()?;
        response.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&response);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            if n == 0 {
                return None;
            }
            continue;
        };
        let length = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        if n == 0 || length.is_some_and(|length| body.len() >= length) {
            let status = head.split(' ').nth(1)?.parse().ok()?;
            return Some((status, body.to_owned()));
        }
    }
}

/// Polls `ready` every 50 ms until it holds, failing after `within`.
pub(crate) fn wait_until(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How long a `lifecycle` run may take, or take to subscribe.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// `lifecycle ARGS --server URL` with nothing from the environment that would change it
/// (`NATS_*`, `RUST_LOG`), its logs plain text, stdout and stderr piped.
pub(crate) fn lifecycle(server: &NatsServer, args: &[&str]) -> Command {
    let mut command = bare(args);
    command.args(["--server", &server.url()]);
    command
}

/// `lifecycle ARGS` with nothing from the environment that would change it (`NATS_*`,
/// `RUST_LOG`), its logs plain text, stdout and stderr piped.
pub(crate) fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
    command
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("NATS_CREDS")
        .env_remove("NATS_TOKEN")
        .env_remove("RUST_LOG")
        // Logs in plain text, so that any ESC byte in them came from an event.
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A running `lifecycle`, killed on drop; stdout and stderr are collected by threads.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stdout: mpsc::Receiver<String>,
    pub(crate) stderr: mpsc::Receiver<String>,
    /// Lines of stdout already read while waiting for one ([`Running::printed`]).
    pub(crate) stdout_read: Vec<String>,
    /// Lines of stderr already read while waiting for one ([`Running::logged`]).
    pub(crate) stderr_read: Vec<String>,
}

/// What a finished run printed.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub(crate) fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

pub(crate) fn lines_of(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

impl Running {
    pub(crate) fn spawn(mut command: Command) -> Running {
        let mut child = command.spawn().expect("run lifecycle");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            stdout_read: Vec::new(),
            stderr_read: Vec::new(),
        }
    }

    /// Starts a `view` or `wait` with `-vv` (a `wait` logs its progress after each event at
    /// debug, see [`Running::logged`]) and returns once it has subscribed.
    pub(crate) fn subscribed(server: &NatsServer, args: &[&str]) -> Running {
        let mut args = args.to_vec();
        args.push("-vv");
        let mut running = Running::spawn(lifecycle(server, &args));
        running.logged("receiving events");
        running
    }

    /// Waits, at most [`RUN_LIMIT`], until stderr has a line holding `needle`: the moment
    /// the process got that far, whatever the machine's load. The lines read on the way are
    /// kept for [`Running::finish`].
    pub(crate) fn logged(&mut self, needle: &str) {
        await_line(&self.stderr, &mut self.stderr_read, needle, "stderr");
    }

    /// Waits, at most [`RUN_LIMIT`], until stdout has a line holding `needle` (see
    /// [`Running::logged`]).
    pub(crate) fn printed(&mut self, needle: &str) {
        await_line(&self.stdout, &mut self.stdout_read, needle, "stdout");
    }

    pub(crate) fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit, at most [`RUN_LIMIT`].
    pub(crate) fn finish(mut self) -> Finished {
        let deadline = Instant::now() + RUN_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "lifecycle did not exit in time");
            thread::sleep(Duration::from_millis(10));
        };
        let collect = |lines: &mpsc::Receiver<String>, read: &[String]| {
            let mut text: String = read.iter().map(|line| format!("{line}\n")).collect();
            while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        };
        Finished {
            status,
            stdout: collect(&self.stdout, &self.stdout_read),
            stderr: collect(&self.stderr, &self.stderr_read),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `lines` into `read` until one holds `needle`, at most [`RUN_LIMIT`].
fn await_line(lines: &mpsc::Receiver<String>, read: &mut Vec<String>, needle: &str, what: &str) {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                read.push(line);
                if found {
                    return;
                }
            }
            Err(e) => panic!(
                "no line with {needle:?} on {what} ({e}):\n{}",
                read.join("\n")
            ),
        }
    }
}

/// `wait` for every server of the fleet to run 0.30.0 or later: the rollout gate.
pub(crate) const ROLLOUT_GATE: [&str; 5] = [
    "wait",
    "--filter",
    "component=server",
    "--until",
    ".version>=0.30.0",
];

/// An alive event's JSON written by hand, as a hostile node could publish it: our builder
/// refuses such an identity or version.
pub(crate) fn hostile_alive(identity: &str, version: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "protocol": "io.choria.lifecycle.v1.alive",
        "id": "6b0b2a6e-1f0e-4c1a-9d2e-000000000007",
        "identity": identity,
        "component": "server",
        "timestamp": 1_700_000_000,
        "version": version,
    }))
    .unwrap()
}

/// The arguments of `emit KIND` for `identity`'s server at `version`.
pub(crate) fn emit_args<'a>(kind: &'a str, identity: &'a str, version: &'a str) -> [&'a str; 7] {
    [kind, "-i", identity, "-c", "server", "--version", version]
}

pub(crate) fn run(server: &NatsServer, args: &[&str]) -> Finished {
    Running::spawn(lifecycle(server, args)).finish()
}

/// A loopback port free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The text of `/metrics` on a loopback port.
pub(crate) fn scrape(port: u16) -> String {
    let (status, text) = get(&format!("127.0.0.1:{port}"), "/metrics")
        .unwrap_or_else(|| panic!("no answer from /metrics on port {port}"));
    assert_eq!(status, 200, "{text}");
    text
}

/// Scrapes `/metrics` on a loopback port until `done` holds for what it says, at most
/// `within`: counters move after the work they count is seen elsewhere (an event recorded
/// by a receiver is counted once its answer is back), so a test waits for them.
pub(crate) fn scrape_until(
    port: u16,
    what: &str,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = scrape(port);
        if done(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the unlabelled metric `name` in an exposition.
pub(crate) fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}
