//! Where to connect and how: flags, `NATS_URL`, then the Choria client configuration.

use std::fmt;
use std::path::PathBuf;

use crate::choria_config::{ChoriaConfig, TlsFiles};
use crate::error::Error;
use lifecycle_secret::Secret;

use crate::server_url::{ServerUrl, shared_credentials, shown, split_servers};

/// The broker used when nothing else is configured.
pub const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// Choria's client configuration files, searched in this order when `--config` is not given.
/// A leading `~/` means the home directory.
pub const CHORIA_CONFIG_FILES: [&str; 4] = [
    "~/.choriarc",
    "~/.mcollective",
    "/etc/choria/client.conf",
    "/usr/local/etc/choria/client.conf",
];

/// What the user asked for: the connection flags of every command. Its `Debug` output
/// shows no password or token.
#[derive(Clone, Default)]
pub struct ConnectOptions {
    /// `--server`: servers, each a URL or `host:port` (comma lists are split); a URL may
    /// hold credentials (`nats://user:password@host:4222`, `nats://token@host:4222`).
    pub servers: Vec<String>,
    /// `--config`: a Choria client configuration file.
    pub config: Option<PathBuf>,
    /// `--creds`: a NATS credentials file.
    pub credentials: Option<PathBuf>,
    /// `--token`: a NATS authentication token.
    pub token: Option<Secret>,
    /// Keep trying when no server answers at first, instead of failing.
    pub retry_initial_connect: bool,
    /// The connection name the server shows.
    pub name: Option<String>,
    /// Messages each subscription buffers before it drops (and counts) them; async-nats'
    /// default (65,536) when unset.
    pub subscription_capacity: Option<usize>,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Split as Settings::resolve splits them, so each URL's credentials are found.
        let servers: Vec<String> = self
            .servers
            .iter()
            .map(|list| list.split(',').map(shown).collect::<Vec<_>>().join(","))
            .collect();
        f.debug_struct("ConnectOptions")
            .field("servers", &servers)
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .field("token", &self.token)
            .field("retry_initial_connect", &self.retry_initial_connect)
            .field("name", &self.name)
            .field("subscription_capacity", &self.subscription_capacity)
            .finish()
    }
}

/// Where the servers came from, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSource {
    /// `--server`.
    Flags,
    /// `NATS_URL`.
    Environment,
    /// `plugin.choria.middleware_hosts` of this file.
    ChoriaConfig(PathBuf),
    /// Nothing was configured.
    Default,
}

/// Resolved connection settings. Their `Debug` output shows no password or token.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Servers as URLs; credentials in them are used, never shown.
    pub servers: Vec<ServerUrl>,
    /// Where they came from.
    pub source: ServerSource,
    /// Mutual TLS, when the Choria configuration uses the file security provider.
    pub tls: Option<TlsFiles>,
    /// A NATS credentials file.
    pub credentials: Option<PathBuf>,
    /// A NATS token (`--token`); it wins over a token in a server URL.
    pub token: Option<Secret>,
    /// Retry the first connection instead of failing.
    pub retry_initial_connect: bool,
    /// Connection name.
    pub name: String,
    /// Messages each subscription buffers before dropping.
    pub subscription_capacity: Option<usize>,
}

impl Settings {
    /// Resolves `options` against the environment (`NATS_URL`, `HOME`) and the files on disk.
    pub fn resolve(options: &ConnectOptions) -> Result<Settings, Error> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let candidates: Vec<PathBuf> = CHORIA_CONFIG_FILES
            .iter()
            .filter_map(|p| match p.strip_prefix("~/") {
                Some(rest) => home.as_ref().map(|h| h.join(rest)),
                None => Some(PathBuf::from(p)),
            })
            .collect();
        let nats_url = std::env::var("NATS_URL").ok();
        Settings::resolve_with(options, nats_url.as_deref(), &candidates)
    }

    /// [`Settings::resolve`] with the environment given, for tests.
    pub fn resolve_with(
        options: &ConnectOptions,
        nats_url: Option<&str>,
        config_candidates: &[PathBuf],
    ) -> Result<Settings, Error> {
        let config = match &options.config {
            Some(path) => Some(ChoriaConfig::load(path)?),
            None => match config_candidates.iter().find(|p| p.is_file()) {
                Some(path) => Some(ChoriaConfig::load(path)?),
                None => None,
            },
        };
        let flags = split_servers(options.servers.iter().map(String::as_str));
        let env = split_servers(nats_url.into_iter());
        let parse = |servers: Vec<String>| -> Result<Vec<ServerUrl>, Error> {
            servers.iter().map(|s| ServerUrl::parse(s)).collect()
        };
        let (servers, source) = if !flags.is_empty() {
            (parse(flags)?, ServerSource::Flags)
        } else if !env.is_empty() {
            (parse(env)?, ServerSource::Environment)
        } else if let Some(config) = config.as_ref().filter(|c| !c.middleware_hosts.is_empty()) {
            (
                config.middleware_hosts.clone(),
                ServerSource::ChoriaConfig(config.path.clone()),
            )
        } else {
            (
                parse(vec![DEFAULT_SERVER.to_owned()])?,
                ServerSource::Default,
            )
        };
        shared_credentials(&servers)?;
        Ok(Settings {
            servers,
            source,
            tls: config.and_then(|c| c.tls),
            credentials: options.credentials.clone(),
            token: options.token.clone(),
            retry_initial_connect: options.retry_initial_connect,
            name: options
                .name
                .clone()
                .unwrap_or_else(|| "lifecycle".to_owned()),
            subscription_capacity: options.subscription_capacity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shown(settings: &Settings) -> Vec<String> {
        settings.servers.iter().map(ToString::to_string).collect()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn servers_come_from_flags_then_env_then_config_then_default() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let config = write(
            dir,
            "client.conf",
            "# a comment\nplugin.choria.middleware_hosts = b1.example.net:4222, b2.example.net:4222\n",
        );
        let with_flags = ConnectOptions {
            servers: vec!["a:4222,nats://c:4222".into(), "tls://d:4443".into()],
            ..Default::default()
        };
        let s = Settings::resolve_with(
            &with_flags,
            Some("nats://env:4222"),
            std::slice::from_ref(&config),
        )
        .unwrap();
        assert_eq!(
            shown(&s),
            ["nats://a:4222", "nats://c:4222", "tls://d:4443"]
        );
        assert_eq!(s.source, ServerSource::Flags);

        let none = ConnectOptions::default();
        let s = Settings::resolve_with(
            &none,
            Some("nats://env:4222"),
            std::slice::from_ref(&config),
        )
        .unwrap();
        assert_eq!(
            (shown(&s), s.source),
            (
                vec!["nats://env:4222".to_owned()],
                ServerSource::Environment
            )
        );

        let s =
            Settings::resolve_with(&none, None, &[dir.join("missing"), config.clone()]).unwrap();
        assert_eq!(
            shown(&s),
            ["nats://b1.example.net:4222", "nats://b2.example.net:4222"]
        );
        assert_eq!(s.source, ServerSource::ChoriaConfig(config));

        let s = Settings::resolve_with(&none, None, &[dir.join("missing")]).unwrap();
        assert_eq!(
            (shown(&s), s.source),
            (vec![DEFAULT_SERVER.to_owned()], ServerSource::Default)
        );

        // A bad NATS_URL does not matter when --server is given.
        let s = Settings::resolve_with(&with_flags, Some("http://nope"), &[]).unwrap();
        assert_eq!(s.source, ServerSource::Flags);
    }

    #[test]
    fn config_errors_name_the_file_and_key() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let missing = ConnectOptions {
            config: Some(dir.join("nope.conf")),
            ..Default::default()
        };
        let err = Settings::resolve_with(&missing, None, &[]).unwrap_err();
        assert!(
            lifecycle_core::ErrorChain(&err)
                .to_string()
                .starts_with(&format!(
                    "cannot read configuration file {}",
                    dir.join("nope.conf").display()
                )),
            "{err}"
        );

        let cert = write(dir, "cert.pem", "x");
        let config = write(
            dir,
            "tls.conf",
            &format!(
                "plugin.security.provider = file\nplugin.security.file.certificate = {}\nplugin.security.file.key = {}\nplugin.security.file.ca = {}\n",
                cert.display(),
                dir.join("missing-key.pem").display(),
                cert.display()
            ),
        );
        let options = ConnectOptions {
            config: Some(config.clone()),
            ..Default::default()
        };
        let err = Settings::resolve_with(&options, None, &[]).unwrap_err();
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            format!(
                "configuration file {}: plugin.security.file.key: file {} does not exist",
                config.display(),
                dir.join("missing-key.pem").display()
            )
        );

        let config = write(dir, "puppet.conf", "plugin.security.provider = puppet\n");
        let options = ConnectOptions {
            config: Some(config.clone()),
            ..Default::default()
        };
        let err = Settings::resolve_with(&options, None, &[]).unwrap_err();
        assert!(
            lifecycle_core::ErrorChain(&err)
                .to_string()
                .contains("plugin.security.provider: 'puppet' is not supported"),
            "{err}"
        );
    }

    #[test]
    fn invalid_servers_are_refused() {
        for (bad, reason) in [
            (
                "http://x:1",
                "unknown scheme 'http' (expected nats://, tls://, ws:// or wss://)",
            ),
            ("nats://", "no host"),
            ("nats://a b", "white space or a control character in it"),
        ] {
            let options = ConnectOptions {
                servers: vec![bad.into()],
                ..Default::default()
            };
            let err = Settings::resolve_with(&options, None, &[]).unwrap_err();
            assert_eq!(
                lifecycle_core::ErrorChain(&err).to_string(),
                format!("invalid NATS server URL: {reason}")
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let options = ConnectOptions {
            servers: vec!["nats://alice:s3cr3t-pw@a:4222,nats://s3cr3t-token@b:4222".into()],
            token: Some(Secret::new("s3cr3t")),
            ..Default::default()
        };
        let debug = format!("{options:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("nats://***@a:4222"), "{debug}");
        // Those two disagree: one connection has one set of credentials.
        let err = Settings::resolve_with(&options, None, &[]).unwrap_err();
        assert!(!format!("{err}{err:?}").contains("s3cr3t"), "{err:?}");

        let options = ConnectOptions {
            servers: vec!["nats://alice:s3cr3t-pw@a:4222".into()],
            token: Some(Secret::new("s3cr3t")),
            ..Default::default()
        };
        let settings = Settings::resolve_with(&options, None, &[]).unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("nats://***@a:4222"), "{debug}");
    }
}
