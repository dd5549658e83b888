use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::ServerAddr;
use tracing::{info, warn};

use crate::error::{Error, ErrorKind};
use crate::settings::Settings;

/// A connection to NATS that reconnects by itself and reports what happens to it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub(crate) client: async_nats::Client,
    pub(crate) health: Arc<Health>,
}

/// What the connection's event callback observed.
#[derive(Debug, Default)]
pub(crate) struct Health {
    dropped: AtomicU64,
    last_drop_warning: std::sync::Mutex<Option<Instant>>,
}

impl Health {
    fn observe(&self, event: async_nats::Event) {
        use async_nats::Event;
        match event {
            Event::Connected => info!("connected to NATS"),
            Event::Disconnected => warn!("disconnected from NATS, reconnecting"),
            Event::LameDuckMode => warn!("NATS server entered lame duck mode"),
            Event::Draining => info!("NATS connection draining"),
            Event::Closed => info!("NATS connection closed"),
            Event::ServerError(e) => warn!(error = %e, "NATS server error"),
            Event::ClientError(e) => warn!(error = %e, "NATS client error"),
            Event::SlowConsumer(sid) => {
                // async-nats drops one message per SlowConsumer event.
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let mut last = self
                    .last_drop_warning
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    *last = Some(Instant::now());
                    warn!(
                        subscription = sid,
                        dropped_total = dropped,
                        "slow consumer: messages were dropped because events arrive faster than they are processed"
                    );
                }
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Waits until `client` has connected. With `retry_on_initial_connect` async-nats hands out
/// the client at once and connects in the background, and until then it knows nothing of the
/// server (whether it has JetStream, say), so a caller must not go on before.
async fn wait_connected(client: &async_nats::Client, servers: &[String]) {
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
    pub async fn connect(settings: &Settings) -> Result<Connection, Error> {
        let health = Arc::new(Health::default());
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
        if let Some(token) = &settings.token {
            options = options.token(token.expose().to_owned());
        }
        if let Some(capacity) = settings.subscription_capacity {
            options = options.subscription_capacity(capacity);
        }
        if settings.retry_initial_connect {
            options = options.retry_on_initial_connect();
        }
        let addresses = settings
            .servers
            .iter()
            .map(|s| {
                s.parse::<ServerAddr>()
                    .map_err(|e| Error::with_source(ErrorKind::InvalidServer(s.clone()), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client = async_nats::connect_with_options(addresses, options)
            .await
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::Connect {
                        servers: settings.servers.clone(),
                    },
                    e,
                )
            })?;
        if settings.retry_initial_connect {
            wait_connected(&client, &settings.servers).await;
        }
        info!(servers = ?settings.servers, source = ?settings.source, "NATS connection ready");
        Ok(Connection { client, health })
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

    /// Whether the server has JetStream enabled.
    pub fn has_jetstream(&self) -> bool {
        self.client.server_info().jetstream
    }
}
