//! The connection flags every networked command takes (DESIGN.md: "Connecting like a
//! Choria client").

use std::path::PathBuf;

use anyhow::Context;
use lifecycle_nats::{ConnectOptions, Connection, Settings};
use lifecycle_secret::{Secret, credential, credential_path, read_file, resolve};

/// The systemd credentials (`LoadCredential=NAME:PATH`) read when their flags and
/// environment variables are not given.
pub(crate) const CREDENTIAL_SERVERS: &str = "nats-url";
pub(crate) const CREDENTIAL_TOKEN: &str = "nats-token";
pub(crate) const CREDENTIAL_CREDS: &str = "nats-creds";

/// How to reach NATS.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectArgs {
    /// NATS servers (URLs or host:port; comma list or repeated). Default: NATS_URL, then
    /// the Choria client configuration, then nats://127.0.0.1:4222. A URL may hold a user
    /// and password (nats://user:password@host:4222) or a token (nats://token@host:4222);
    /// they are never shown, but a command line is readable by every local user: give
    /// those with --server-file.
    #[arg(short, long = "server", value_name = "URL", global = true)]
    servers: Vec<String>,

    /// Read the NATS servers from this file (one line, or one per line), instead of
    /// --server; without either, NATS_URL, then the systemd credential nats-url
    /// ($CREDENTIALS_DIRECTORY/nats-url).
    #[arg(long, value_name = "FILE", global = true)]
    server_file: Option<PathBuf>,

    /// Choria client configuration file (default: ~/.choriarc, ~/.mcollective,
    /// /etc/choria/client.conf, /usr/local/etc/choria/client.conf, the first that exists).
    /// Read as Choria reads it: plugin.choria.middleware_hosts, else the DNS SRV records of
    /// plugin.choria.srv_domain; mutual TLS from the file or puppet security provider
    /// (plugin.choria.ssldir, certificate MCOLLECTIVE_CERTNAME or $USER.mcollective).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// NATS credentials file. Default: the systemd credential nats-creds.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "NATS_CREDS",
        hide_env_values = true
    )]
    creds: Option<PathBuf>,

    /// NATS authentication token. A command line is readable by every local user: prefer
    /// --token-file, NATS_TOKEN or the systemd credential nats-token.
    #[arg(
        long,
        value_name = "TOKEN",
        global = true,
        env = "NATS_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Read the NATS authentication token from this file (it wins over --token).
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "NATS_TOKEN_FILE",
        hide_env_values = true
    )]
    token_file: Option<PathBuf>,
}

impl ConnectArgs {
    /// The library's options, for commands that need to adjust them further: secrets read
    /// from their files or systemd credentials.
    pub(crate) fn options(&self) -> anyhow::Result<ConnectOptions> {
        // A file or credential holds the servers a line each, as one comma-separated list.
        let one_list = |list: Secret| list.expose().lines().collect::<Vec<_>>().join(",");
        let servers = if let Some(path) = &self.server_file {
            vec![one_list(read_file(path).context("--server-file")?)]
        } else if !self.servers.is_empty() || std::env::var_os("NATS_URL").is_some() {
            self.servers.clone()
        } else {
            credential(CREDENTIAL_SERVERS)
                .context("the NATS servers")?
                .map(one_list)
                .into_iter()
                .collect()
        };
        let credentials = self
            .creds
            .clone()
            .or_else(|| credential_path(CREDENTIAL_CREDS));
        let token = resolve(
            self.token.as_deref(),
            self.token_file.as_deref(),
            CREDENTIAL_TOKEN,
        )
        .context("the NATS token")?;
        Ok(ConnectOptions {
            servers,
            config: self.config.clone(),
            credentials,
            token,
            ..Default::default()
        })
    }

    /// Resolves the settings and connects, failing at once when no server answers.
    pub(crate) async fn connect(&self) -> anyhow::Result<Connection> {
        connect(&self.options()?).await
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
