//! `Logged`: a process (a `lifecycle` service, most often) whose stderr goes to a file a
//! test can search while it runs, killed on drop even when the test fails.

use std::process::{Child, Command, Stdio};

use crate::appended::complete_text;
use crate::wait::LIMIT;

/// A running process logging to a file, killed (SIGKILL, no goodbye) on drop.
#[derive(Debug)]
pub struct Logged {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Logged {
    /// Starts `command` with nothing from the environment that would change it (`NATS_URL`,
    /// `RUST_LOG`), plain-text logs (`NO_COLOR`) into a file, stdin and stdout closed.
    pub fn spawn(mut command: Command) -> Logged {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let child = command
            .env_remove("NATS_URL")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("the log file again"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        Logged { child, log }
    }

    /// Kills it, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until its log has a line holding `needle`: the moment it got that far,
    /// whatever the machine's load. Fails after [`LIMIT`], showing the log.
    pub async fn logged(&self, needle: &str) {
        let deadline = std::time::Instant::now() + LIMIT;
        while !self.log().contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} logged within {LIMIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// What it logged so far, in whole lines.
    pub fn log(&self) -> String {
        complete_text(self.log.path())
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The logs of `processes`, for a failing assertion.
pub fn logs(processes: &[&Logged]) -> String {
    processes
        .iter()
        .map(|p| p.log())
        .collect::<Vec<_>>()
        .join("\n---\n")
}
