use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::appended::complete_lines;

const INSTALL_HINT: &str = "the Python CloudEvents SDK was not found. The interoperability \
    tests receive events with it: install it with `python3 -m pip install cloudevents` \
    (.ci/run does this).";

/// A CloudEvents HTTP receiver written with the Python `cloudevents` SDK from PyPI
/// (`crates/lifecycle-cloudevents/tests/receiver.py`), killed when dropped. Each request it
/// parsed is a JSON line in [`CloudEventsReceiver::received`].
#[derive(Debug)]
pub struct CloudEventsReceiver {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    delay: Duration,
    answers: Vec<(String, u16)>,
}

impl CloudEventsReceiver {
    /// Starts a receiver on a random loopback port.
    pub fn start() -> CloudEventsReceiver {
        CloudEventsReceiver::start_failing(0)
    }

    /// Starts a receiver that answers 503 to its first `requests` requests.
    pub fn start_failing(requests: u32) -> CloudEventsReceiver {
        CloudEventsReceiver::start_with(requests, Duration::ZERO)
    }

    /// Starts a receiver that waits `delay` between recording each event and answering
    /// (after a restart too): a sender killed meanwhile leaves it delivered, unacknowledged.
    pub fn start_slow(delay: Duration) -> CloudEventsReceiver {
        CloudEventsReceiver::start_with(0, delay)
    }

    /// Starts a receiver that answers `status` to every request for the event `id`, for
    /// each pair of `answers` (recorded in [`CloudEventsReceiver::refused`] with the status).
    pub fn start_answering(answers: &[(&str, u16)]) -> CloudEventsReceiver {
        let mut receiver = CloudEventsReceiver::unstarted(Duration::ZERO);
        receiver.answers = answers
            .iter()
            .map(|(id, status)| ((*id).to_owned(), *status))
            .collect();
        receiver.spawn(0);
        receiver
    }

    fn start_with(fail: u32, delay: Duration) -> CloudEventsReceiver {
        let mut receiver = CloudEventsReceiver::unstarted(delay);
        receiver.spawn(fail);
        receiver
    }

    fn unstarted(delay: Duration) -> CloudEventsReceiver {
        let dir = tempfile::Builder::new()
            .prefix("lifecycle-receiver-")
            .tempdir()
            .expect("create a temporary directory for the receiver");
        CloudEventsReceiver {
            child: None,
            port: 0,
            dir,
            delay,
            answers: Vec::new(),
        }
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Kills the receiver; [`CloudEventsReceiver::start_again`] brings it back on the same
    /// port, keeping what it received.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the receiver again on the same port.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the receiver is still running");
        self.spawn(0);
    }

    /// One JSON object per request parsed so far, in order of arrival.
    /// Only complete lines: one the receiver is still writing is left for the next call.
    pub fn received(&self) -> Vec<String> {
        complete_lines(&self.out())
    }

    /// The requests refused, one JSON object each: `{"id": ...}` for the 503s of
    /// [`CloudEventsReceiver::start_failing`], `{"id": ..., "status": ...}` for the answers of
    /// [`CloudEventsReceiver::start_answering`].
    /// Only complete lines, as [`CloudEventsReceiver::received`].
    pub fn refused(&self) -> Vec<String> {
        complete_lines(&self.dir.path().join("received.jsonl.refused"))
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("received.jsonl")
    }

    fn spawn(&mut self, fail: u32) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../lifecycle-cloudevents/tests/receiver.py");
        let probe = Command::new("python3")
            .args(["-c", "import cloudevents"])
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run python3: {e}. {INSTALL_HINT}"));
        assert!(probe.success(), "{INSTALL_HINT}");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--out")
            .arg(self.out())
            .arg("--fail")
            .arg(fail.to_string())
            .arg("--delay")
            .arg(self.delay.as_secs_f64().to_string())
            .args(
                self.answers
                    .iter()
                    .flat_map(|(id, status)| ["--answer".to_owned(), format!("{id}={status}")]),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(port) = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse::<u16>().ok())
        else {
            let _ = child.kill();
            let status = child.wait();
            panic!("the CloudEvents receiver did not start ({status:?}); {INSTALL_HINT}");
        };
        self.port = port;
        self.child = Some(child);
    }
}

impl Drop for CloudEventsReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}
