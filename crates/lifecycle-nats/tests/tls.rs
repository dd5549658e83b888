//! Mutual TLS through a Choria client configuration with the file security provider.

mod common;

use std::path::Path;

use common::*;
use lifecycle_core::{AnyEvent, Format};
use lifecycle_nats::{ConnectOptions, Connection, ErrorKind, Settings};
use lifecycle_testsupport::{NatsServer, ServerOptions, TestCerts};

fn choria_config(
    dir: &Path,
    server: &NatsServer,
    certificate: &Path,
    key: &Path,
    ca: &Path,
) -> ConnectOptions {
    let path = dir.join("client.conf");
    let text = format!(
        "plugin.choria.middleware_hosts = 127.0.0.1:{}\n\
         plugin.security.provider = file\n\
         plugin.security.file.certificate = {}\n\
         plugin.security.file.key = {}\n\
         plugin.security.file.ca = {}\n",
        server.port(),
        certificate.display(),
        key.display(),
        ca.display()
    );
    std::fs::write(&path, text).unwrap();
    ConnectOptions {
        config: Some(path),
        ..Default::default()
    }
}

fn tls_server(dir: &Path) -> (NatsServer, TestCerts) {
    let certs = TestCerts::generate(&dir.join("good"), "lifecycle test CA");
    let server = NatsServer::with_options(ServerOptions {
        extra_config: certs.server_config(),
        ..Default::default()
    });
    (server, certs)
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_with_the_file_security_provider() {
    let dir = tempfile::tempdir().unwrap();
    let (server, certs) = tls_server(dir.path());
    let options = choria_config(
        dir.path(),
        &server,
        &certs.client_cert,
        &certs.client_key,
        &certs.ca,
    );
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let servers: Vec<String> = settings.servers.iter().map(ToString::to_string).collect();
    assert_eq!(servers, [format!("nats://127.0.0.1:{}", server.port())]);
    assert!(settings.tls.is_some());
    let connection = within(60, "a TLS connection", Connection::connect(&settings))
        .await
        .unwrap();
    let (event, got) = round_trip(&connection, Format::CloudEvents).await;
    assert_eq!(got.parsed.event(), &AnyEvent::Lifecycle(event));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_ca_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (server, certs) = tls_server(dir.path());
    let other = TestCerts::generate(&dir.path().join("other"), "some other CA");
    let options = choria_config(
        dir.path(),
        &server,
        &certs.client_cert,
        &certs.client_key,
        &other.ca,
    );
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let err = within(60, "the connection to fail", Connection::connect(&settings))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err:?}");
    let message = lifecycle_core::ErrorChain(&err).to_string();
    assert!(
        message.starts_with(&format!(
            "cannot connect to NATS at nats://127.0.0.1:{}: ",
            server.port()
        )),
        "{message}"
    );
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_certificate_file_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let (server, certs) = tls_server(dir.path());
    let missing = dir.path().join("gone.pem");
    let options = choria_config(dir.path(), &server, &missing, &certs.client_key, &certs.ca);
    let err = Settings::resolve_with(&options, None, &[]).unwrap_err();
    assert_eq!(
        lifecycle_core::ErrorChain(&err).to_string(),
        format!(
            "configuration file {}: plugin.security.file.certificate: file {} does not exist",
            dir.path().join("client.conf").display(),
            missing.display()
        )
    );
}
