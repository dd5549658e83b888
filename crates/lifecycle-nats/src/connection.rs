use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::ConnectErrorKind;
use tracing::{info, warn};

use crate::error::{Error, ErrorKind};
use crate::recurring::Recurring;
use crate::server_url::{ServerUrl, UrlCredentials, shared_credentials};
use crate::settings::Settings;
use crate::version::ServerVersion;

/// A connection to NATS that reconnects by itself and reports what happens to it. Its
/// `Debug` output names the servers with their credentials redacted.
#[derive(Clone)]
pub struct Connection {
    pub(crate) client: async_nats::Client,
    pub(crate) health: Arc<Health>,
    servers: Arc<[ServerUrl]>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("servers", &self.servers)
            .field("state", &self.client.connection_state())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// What the connection's event callback observed.
#[derive(Debug)]
pub(crate) struct Health {
    /// The servers, credentials redacted, for messages: async-nats' events do not say which.
    servers: String,
    dropped: AtomicU64,
    drops: Mutex<Recurring>,
    /// Errors while the broker is away come once per reconnect attempt: warned about at
    /// once, then once per interval with the total.
    errors: Mutex<Recurring>,
}

impl Health {
    fn new(servers: &[ServerUrl]) -> Self {
        let servers: Vec<String> = servers.iter().map(ToString::to_string).collect();
        Health {
            servers: servers.join(", "),
            dropped: AtomicU64::new(0),
            drops: Mutex::new(Recurring::new(
                "slow consumer: events were dropped because they arrive faster than they are processed",
            )),
            errors: Mutex::new(Recurring::new("NATS connection errors, still reconnecting")),
        }
    }

    fn observe(&self, event: async_nats::Event) {
        use async_nats::Event;
        let servers = self.servers.as_str();
        match event {
            Event::Connected => {
                self.errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .flush();
                info!(servers, "connected to NATS");
            }
            Event::Disconnected => warn!(servers, "disconnected from NATS, reconnecting"),
            Event::LameDuckMode => warn!(servers, "NATS server entered lame duck mode"),
            Event::Draining => info!("NATS connection draining"),
            Event::Closed => info!("NATS connection closed"),
            Event::ServerError(e) => warn!(servers, error = %e, "NATS server error"),
            Event::ClientError(e) => self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(format_args!("{e} (servers {servers})")),
            Event::SlowConsumer(sid) => {
                // async-nats drops one message per SlowConsumer event.
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                self.drops
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .record_total(dropped, format_args!("subscription {sid}"));
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn report_dropped(&self) {
        self.drops.lock().unwrap_or_else(|p| p.into_inner()).flush();
    }
}

/// Waits until `client` has connected. With `retry_on_initial_connect` async-nats hands out
/// the client at once and connects in the background, and until then it knows nothing of the
/// server (whether it has JetStream, say), so a caller must not go on before.
async fn wait_connected(client: &async_nats::Client, servers: &[ServerUrl]) {
    let mut waited = Duration::ZERO;
    while client.connection_state() != async_nats::connection::State::Connected {
        if waited == Duration::from_secs(2) {
            warn!(?servers, "no NATS server answers yet, still trying");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
}

impl Connection {
    /// Connects as `settings` say. Fails at once when no server answers, unless
    /// `retry_initial_connect` is set; after that, reconnects forever.
    /// Brokers that the Choria configuration says to find by DNS are looked up first
    /// ([`Settings::lookup_servers`]).
    pub async fn connect(settings: &Settings) -> Result<Connection, Error> {
        let servers = settings.lookup_servers().await?;
        let health = Arc::new(Health::new(&servers));
        let observer = health.clone();
        let mut options = async_nats::ConnectOptions::new()
            .name(&settings.name)
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |event| {
                let observer = observer.clone();
                async move { observer.observe(event) }
            });
        if let Some(tls) = &settings.tls {
            options = options
                .require_tls(true)
                .add_root_certificates(tls.ca.clone())
                .add_client_certificate(tls.certificate.clone(), tls.key.clone());
        }
        if let Some(path) = &settings.credentials {
            options = options.credentials_file(path).await.map_err(|e| {
                Error::with_source(ErrorKind::Credentials { path: path.clone() }, e)
            })?;
        }
        // async-nats ignores credentials in server URLs (nats-io/nats.rs#1623), and logs
        // the URLs it is given: it gets them bare, and the credentials as options.
        match shared_credentials(&servers)? {
            Some(UrlCredentials::UserPassword { user, password }) => {
                options = options.user_and_password(user.clone(), password.expose().to_owned());
            }
            // --token wins over a token in a URL.
            Some(UrlCredentials::Token(token)) if settings.token.is_none() => {
                options = options.token(token.expose().to_owned());
            }
            Some(UrlCredentials::Token(_)) | None => {}
        }
        if let Some(token) = &settings.token {
            options = options.token(token.expose().to_owned());
        }
        if let Some(capacity) = settings.subscription_capacity {
            options = options.subscription_capacity(capacity);
        }
        if settings.retry_initial_connect {
            options = options.retry_on_initial_connect();
        }
        let addresses: Vec<_> = servers.iter().map(|s| s.address().clone()).collect();
        let shown = || servers.iter().map(ToString::to_string).collect();
        let client = async_nats::connect_with_options(addresses, options)
            .await
            .map_err(|e| match e.kind() {
                ConnectErrorKind::AuthorizationViolation => {
                    Error::new(ErrorKind::Unauthorized { servers: shown() })
                }
                _ => Error::with_source(ErrorKind::Connect { servers: shown() }, e),
            })?;
        if settings.retry_initial_connect {
            wait_connected(&client, &servers).await;
        }
        info!(?servers, source = ?settings.source, "NATS connection ready");
        Ok(Connection {
            client,
            health,
            servers: servers.into(),
        })
    }

    /// The underlying async-nats client, for anything this crate does not cover.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Messages dropped so far because a subscription of this connection fell behind
    /// (at least this many: async-nats may drop the notice itself under extreme load).
    pub fn dropped(&self) -> u64 {
        self.health.dropped()
    }

    /// Logs the slow-consumer drops that the last warning did not count, if any. The
    /// connection warns of the first drop at once and then at most once per
    /// [`WARNING_INTERVAL`](crate::WARNING_INTERVAL) while they go on; a program calls this
    /// now and then, and before it ends, so that the total is always told.
    pub fn report_dropped(&self) {
        self.health.report_dropped();
    }

    /// Whether the server has JetStream enabled.
    pub fn has_jetstream(&self) -> bool {
        self.client.server_info().jetstream
    }

    /// The version the server announced; `None` when it announced none that reads as one.
    pub fn server_version(&self) -> Option<ServerVersion> {
        ServerVersion::parse(&self.client.server_info().version)
    }

    /// Checks that the server is `needs` or later for `what` (`--election`, `JetStream`):
    /// below, an error naming both versions. A server whose version does not read is let
    /// through: the feature then fails, or works, on its own terms.
    pub fn require(&self, what: &str, needs: ServerVersion) -> Result<(), Error> {
        match self.server_version() {
            Some(version) if version < needs => Err(Error::new(ErrorKind::ServerTooOld {
                version: self.client.server_info().version,
                what: what.to_owned(),
                needs,
            })),
            _ => Ok(()),
        }
    }
}
