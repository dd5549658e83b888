//! Credentials in server URLs, against a nats-server started with `--user/--pass` or
//! `--auth`: they authenticate from `--server`, `NATS_URL` and the Choria configuration, and
//! no password or token shows in an error, in `Debug` output or in the logs (async-nats'
//! own included, at trace level).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use lifecycle_core::Format;
use lifecycle_nats::{ConnectOptions, Connection, ErrorKind, Settings};
use lifecycle_testsupport::{NatsServer, ServerOptions};

/// Every log line of this thread, at trace level, for as long as the guard lives. The tests
/// run on a current-thread runtime, so async-nats' tasks log here too.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn alice_server() -> NatsServer {
    NatsServer::with_password("alice", "s3cret")
}

fn with_credentials(server: &NatsServer, credentials: &str) -> String {
    format!("nats://{credentials}@127.0.0.1:{}", server.port())
}

/// Publishes one event through `connection` and receives it back.
async fn round_trip_choria(connection: &Connection) {
    let (event, got) = round_trip(connection, Format::Choria).await;
    assert_eq!(got.parsed.event().id(), event.id());
}

#[tokio::test]
async fn a_user_and_password_url_authenticates_from_flags_env_and_choria_config() {
    let server = alice_server();
    let url = with_credentials(&server, "alice:s3cret");
    let logs = Logs::default();
    let _guard = logs.capture();

    let flags = ConnectOptions {
        servers: vec![url.clone()],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&flags, None, &[]).unwrap();
    let connection = within(60, "a connection", Connection::connect(&settings))
        .await
        .unwrap();
    round_trip_choria(&connection).await;
    let shown = format!("nats://***@127.0.0.1:{}", server.port());
    assert_eq!(settings.servers[0].to_string(), shown);
    for debug in [
        format!("{flags:?}"),
        format!("{settings:?}"),
        format!("{connection:?}"),
    ] {
        assert!(debug.contains(&shown), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    let env = Settings::resolve_with(&ConnectOptions::default(), Some(&url), &[]).unwrap();
    round_trip_choria(&Connection::connect(&env).await.unwrap()).await;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("client.conf");
    std::fs::write(&config, format!("plugin.choria.middleware_hosts = {url}\n")).unwrap();
    let choria = Settings::resolve_with(&ConnectOptions::default(), None, &[config]).unwrap();
    round_trip_choria(&Connection::connect(&choria).await.unwrap()).await;

    let logs = logs.text();
    assert!(logs.contains("NATS connection ready"), "{logs}");
    assert!(logs.contains(&shown), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
}

#[tokio::test]
async fn a_wrong_password_names_the_server_says_authorization_failed_and_hides_it() {
    let server = alice_server();
    let logs = Logs::default();
    let _guard = logs.capture();
    for credentials in ["alice:not-s3cret", "alice:", "s3cret-as-a-token", ""] {
        let url = if credentials.is_empty() {
            server.url()
        } else {
            with_credentials(&server, credentials)
        };
        let options = ConnectOptions {
            servers: vec![url],
            ..Default::default()
        };
        let settings = Settings::resolve_with(&options, None, &[]).unwrap();
        let err = refused(&settings).await;
        let shown = if credentials.is_empty() {
            server.url()
        } else {
            format!("nats://***@127.0.0.1:{}", server.port())
        };
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            format!(
                "cannot connect to NATS at {shown}: authorization failed (the server refused \
                 the user and password, token or credentials file given, or wants some)"
            )
        );
        let debug = format!("{err:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }
    let logs = logs.text();
    assert!(!logs.contains("s3cret"), "{logs}");
}

#[tokio::test]
async fn a_token_url_authenticates() {
    let server = NatsServer::with_options(ServerOptions {
        args: ["--auth", "s3cret-token"].map(String::from).into(),
        ..Default::default()
    });
    let logs = Logs::default();
    let _guard = logs.capture();
    let options = ConnectOptions {
        servers: vec![with_credentials(&server, "s3cret-token")],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let connection = Connection::connect(&settings).await.unwrap();
    round_trip_choria(&connection).await;
    assert_eq!(
        format!("{:?}", settings.servers),
        format!("[\"nats://***@127.0.0.1:{}\"]", server.port())
    );
    let logs = logs.text();
    assert!(!logs.contains("s3cret"), "{logs}");
}

#[tokio::test]
async fn a_bad_credentials_file_is_named_and_its_contents_never_shown() {
    let server = alice_server();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("user.creds");
    std::fs::write(
        &creds,
        "-----BEGIN NATS USER JWT-----\neyJs3cretJWT\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\nSUAs3cretSEEDthatisnotvalid\n------END USER NKEY SEED------\n",
    )
    .unwrap();
    let options = ConnectOptions {
        servers: vec![server.url()],
        credentials: Some(creds.clone()),
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let err = Connection::connect(&settings).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Credentials { .. }),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        shown.starts_with(&format!(
            "cannot load NATS credentials file {}",
            creds.display()
        )),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}
