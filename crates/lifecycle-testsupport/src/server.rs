//! `NatsServer`: [`lifecycle_localnats::LocalNats`] for tests, failing a test with an install
//! hint instead of returning an error.

use std::path::Path;

use lifecycle_localnats::{Error, LocalNats, Options};

/// How to run the server.
pub type ServerOptions = Options;

/// A running `nats-server`, killed when dropped.
#[derive(Debug)]
pub struct NatsServer(LocalNats);

/// Fails the test with what went wrong; the integration tests never skip without a server.
fn started<T>(result: Result<T, Error>) -> T {
    result.unwrap_or_else(|error| {
        panic!("{error}. The integration tests need a real NATS server (.ci/run installs it).")
    })
}

impl NatsServer {
    /// Starts a server with JetStream on a random loopback port.
    pub fn start() -> NatsServer {
        NatsServer::with_options(ServerOptions::default())
    }

    /// Starts a server with `options` on a random loopback port.
    pub fn with_options(options: ServerOptions) -> NatsServer {
        NatsServer(started(LocalNats::start(options)))
    }

    /// Starts a server that wants the user `user` with the password `password`.
    pub fn with_password(user: &str, password: &str) -> NatsServer {
        NatsServer::with_options(ServerOptions {
            args: vec![
                "--user".to_owned(),
                user.to_owned(),
                "--pass".to_owned(),
                password.to_owned(),
            ],
            ..Default::default()
        })
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// The port it listens on; kept across [`NatsServer::restart`].
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// The server's temporary directory (JetStream's store is inside).
    pub fn dir(&self) -> &Path {
        self.0.dir()
    }

    /// Kills the server; [`NatsServer::start_again`] brings it back on the same port.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Starts the server again on the same port, with the same JetStream store.
    pub fn start_again(&mut self) {
        started(self.0.start_again());
    }

    /// Stops and starts the server on the same port.
    pub fn restart(&mut self) {
        started(self.0.restart());
    }
}
