//! The connection flags every networked command takes (DESIGN.md: "Connecting like a
//! Choria client").

use std::path::PathBuf;

use lifecycle_nats::{ConnectOptions, Connection, Secret, Settings};

/// How to reach NATS.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectArgs {
    /// NATS servers (URLs or host:port; comma list or repeated). Default: NATS_URL, then
    /// the Choria client configuration, then nats://127.0.0.1:4222. A URL may hold a user
    /// and password (nats://user:password@host:4222) or a token (nats://token@host:4222);
    /// they are never shown.
    #[arg(short, long = "server", value_name = "URL", global = true)]
    servers: Vec<String>,

    /// Choria client configuration file (default: ~/.choriarc, ~/.mcollective,
    /// /etc/choria/client.conf, /usr/local/etc/choria/client.conf, the first that exists).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// NATS credentials file.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "NATS_CREDS",
        hide_env_values = true
    )]
    creds: Option<PathBuf>,

    /// NATS authentication token.
    #[arg(
        long,
        value_name = "TOKEN",
        global = true,
        env = "NATS_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

impl ConnectArgs {
    /// The library's options, for commands that need to adjust them further.
    pub(crate) fn options(&self) -> ConnectOptions {
        ConnectOptions {
            servers: self.servers.clone(),
            config: self.config.clone(),
            credentials: self.creds.clone(),
            token: self.token.clone().map(Secret::new),
            ..Default::default()
        }
    }

    /// Resolves the settings and connects, failing at once when no server answers.
    pub(crate) async fn connect(&self) -> anyhow::Result<Connection> {
        connect(&self.options()).await
    }
}

/// Resolves `options` and connects.
pub(crate) async fn connect(options: &ConnectOptions) -> anyhow::Result<Connection> {
    let settings = Settings::resolve(options)?;
    Ok(Connection::connect(&settings).await?)
}

/// The runtime networked commands run on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
