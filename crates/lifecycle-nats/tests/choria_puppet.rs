//! Mutual TLS through a Choria client configuration with the puppet security provider: the
//! files found in a Puppet-layout ssl directory, as Choria finds them.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use lifecycle_core::{AnyEvent, Format};
use lifecycle_nats::{
    ChoriaEnvironment, ConnectOptions, Connection, Environment, Settings, TlsFiles,
};
use lifecycle_testsupport::{NatsServer, ServerOptions, TestCerts};

/// `certs` laid out as Puppet keeps them in `ssl`, for the certificate name `certname`.
fn puppet_ssl_dir(ssl: &Path, certs: &TestCerts, certname: &str) {
    std::fs::create_dir_all(ssl.join("certs")).unwrap();
    std::fs::create_dir_all(ssl.join("private_keys")).unwrap();
    let pem = format!("{certname}.pem");
    std::fs::copy(&certs.client_cert, ssl.join("certs").join(&pem)).unwrap();
    std::fs::copy(&certs.client_key, ssl.join("private_keys").join(&pem)).unwrap();
    std::fs::copy(&certs.ca, ssl.join("certs/ca.pem")).unwrap();
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("client.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn resolve(config: &Path, choria: ChoriaEnvironment) -> Result<Settings, lifecycle_nats::Error> {
    let options = ConnectOptions {
        config: Some(config.to_owned()),
        ..Default::default()
    };
    let environment = Environment {
        choria,
        ..Default::default()
    };
    Settings::resolve_in(&options, &environment)
}

fn tls_server(dir: &Path) -> (NatsServer, TestCerts) {
    let certs = TestCerts::generate(&dir.join("generated"), "lifecycle puppet CA");
    let server = NatsServer::with_options(ServerOptions {
        extra_config: certs.server_config(),
        ..Default::default()
    });
    (server, certs)
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_with_the_ssl_directory_of_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (server, certs) = tls_server(dir.path());
    let ssl = dir.path().join("puppet/ssl");
    puppet_ssl_dir(&ssl, &certs, "alice.mcollective");
    let config = write_config(
        dir.path(),
        &format!(
            "plugin.choria.middleware_hosts = 127.0.0.1:{}\n\
             plugin.security.provider = puppet\n\
             plugin.choria.ssldir = {}\n",
            server.port(),
            ssl.display()
        ),
    );
    // The certificate is named for USER: alice.mcollective.
    let settings = resolve(
        &config,
        ChoriaEnvironment {
            user: Some("alice".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        settings.tls,
        Some(TlsFiles {
            certificate: ssl.join("certs/alice.mcollective.pem"),
            key: ssl.join("private_keys/alice.mcollective.pem"),
            ca: ssl.join("certs/ca.pem"),
        })
    );
    let connection = within(60, "a TLS connection", Connection::connect(&settings))
        .await
        .unwrap();
    let (event, got) = round_trip(&connection, Format::Choria).await;
    assert_eq!(got.parsed.event(), &AnyEvent::Lifecycle(event));
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_with_a_users_default_ssl_directory_and_certname() {
    let dir = tempfile::tempdir().unwrap();
    let (server, certs) = tls_server(dir.path());
    let home = dir.path().join("home/bob");
    // MCOLLECTIVE_CERTNAME wins over USER; no ssldir: the user's under HOME.
    puppet_ssl_dir(
        &home.join(".puppetlabs/etc/puppet/ssl"),
        &certs,
        "bob.example.net",
    );
    let config = write_config(
        dir.path(),
        &format!(
            "plugin.choria.middleware_hosts = 127.0.0.1:{}\nplugin.security.provider = puppet\n",
            server.port(),
        ),
    );
    let settings = resolve(
        &config,
        ChoriaEnvironment {
            home: Some(home.clone()),
            user: Some("bob".into()),
            certname: Some("bob.example.net".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let connection = within(60, "a TLS connection", Connection::connect(&settings))
        .await
        .unwrap();
    let (event, got) = round_trip(&connection, Format::Choria).await;
    assert_eq!(got.parsed.event(), &AnyEvent::Lifecycle(event));

    // Named for USER instead, the certificate is not there: the error says which file.
    let err = resolve(
        &config,
        ChoriaEnvironment {
            home: Some(home.clone()),
            user: Some("bob".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        lifecycle_core::ErrorChain(&err).to_string(),
        format!(
            "configuration file {}: plugin.security.provider: file {} does not exist (the puppet \
             security provider's certificate for bob.mcollective)",
            config.display(),
            home.join(".puppetlabs/etc/puppet/ssl/certs/bob.mcollective.pem")
                .display()
        )
    );
}
