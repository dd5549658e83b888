//! Where to connect and how: flags, `NATS_URL`, then the Choria client configuration.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::choria_config::{ChoriaConfig, ChoriaEnvironment, TlsFiles};
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
    /// The DNS server (UDP) asked for the SRV records of the Choria configuration's
    /// `plugin.choria.srv_domain`; the system's resolver configuration when unset.
    pub dns_server: Option<SocketAddr>,
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
            .field("dns_server", &self.dns_server)
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
    /// The DNS SRV records under `domain`, which this file's `plugin.choria.srv_domain` (or
    /// `CHORIA_SRV_DOMAIN`) names: looked up when connecting
    /// ([`Settings::lookup_servers`]).
    Srv {
        /// The Choria configuration file.
        config: PathBuf,
        /// The domain.
        domain: String,
    },
    /// Nothing was configured.
    Default,
}

/// Resolved connection settings. Their `Debug` output shows no password or token.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Servers as URLs; credentials in them are used, never shown. Empty when they are
    /// found by DNS ([`ServerSource::Srv`]): [`Settings::lookup_servers`] gives them.
    pub servers: Vec<ServerUrl>,
    /// Where they came from.
    pub source: ServerSource,
    /// Mutual TLS, when the Choria configuration uses the file or puppet security provider.
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
    /// The DNS server asked for SRV records; the system's resolvers when unset.
    pub dns_server: Option<SocketAddr>,
}

/// What settings are resolved against besides the options: this process's environment
/// ([`Environment::of_process`]), or one a test makes.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `NATS_URL`.
    pub nats_url: Option<String>,
    /// The Choria configuration files looked for when `--config` is not given, in order
    /// (the first that exists is read).
    pub config_files: Vec<PathBuf>,
    /// What the Choria configuration's puppet security provider and SRV lookups read.
    pub choria: ChoriaEnvironment,
}

impl Environment {
    /// This process's: `NATS_URL`, [`CHORIA_CONFIG_FILES`] under `HOME`, and
    /// [`ChoriaEnvironment::of_process`].
    pub fn of_process() -> Environment {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config_files = CHORIA_CONFIG_FILES
            .iter()
            .filter_map(|p| match p.strip_prefix("~/") {
                Some(rest) => home.as_ref().map(|h| h.join(rest)),
                None => Some(PathBuf::from(p)),
            })
            .collect();
        Environment {
            nats_url: std::env::var("NATS_URL").ok(),
            config_files,
            choria: ChoriaEnvironment::of_process(),
        }
    }
}

impl Settings {
    /// Resolves `options` against this process's environment ([`Environment::of_process`])
    /// and the files on disk. Touches no network: brokers found by DNS are looked up when
    /// connecting.
    pub fn resolve(options: &ConnectOptions) -> Result<Settings, Error> {
        Settings::resolve_in(options, &Environment::of_process())
    }

    /// [`Settings::resolve`] with `NATS_URL` and the configuration files given, for tests;
    /// what the Choria configuration reads besides is this process's.
    pub fn resolve_with(
        options: &ConnectOptions,
        nats_url: Option<&str>,
        config_candidates: &[PathBuf],
    ) -> Result<Settings, Error> {
        let env = Environment {
            nats_url: nats_url.map(str::to_owned),
            config_files: config_candidates.to_vec(),
            choria: ChoriaEnvironment::of_process(),
        };
        Settings::resolve_in(options, &env)
    }

    /// [`Settings::resolve`] in the environment `environment`.
    ///
    /// The servers are the first of: `--server`, `NATS_URL`, the Choria configuration's
    /// `plugin.choria.middleware_hosts`, its SRV domain (looked up when connecting), and
    /// [`DEFAULT_SERVER`].
    pub fn resolve_in(
        options: &ConnectOptions,
        environment: &Environment,
    ) -> Result<Settings, Error> {
        let load = |path: &PathBuf| ChoriaConfig::load_in(path, &environment.choria);
        let config = match &options.config {
            Some(path) => Some(load(path)?),
            None => match environment.config_files.iter().find(|p| p.is_file()) {
                Some(path) => Some(load(path)?),
                None => None,
            },
        };
        let flags = split_servers(options.servers.iter().map(String::as_str));
        let env = split_servers(environment.nats_url.as_deref().into_iter());
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
        } else if let Some((config, domain)) = config
            .as_ref()
            .and_then(|c| c.srv_domain.as_ref().map(|d| (c, d)))
        {
            (
                Vec::new(),
                ServerSource::Srv {
                    config: config.path.clone(),
                    domain: domain.clone(),
                },
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
            dns_server: options.dns_server,
        })
    }

    /// The servers to connect to: [`Settings::servers`], or for [`ServerSource::Srv`]
    /// those its SRV records name (`_mcollective-server._tcp.DOMAIN`, else
    /// `_x-puppet-mcollective._tcp.DOMAIN`), by priority then weight, each with the port
    /// its record gives. [`Connection::connect`](crate::Connection::connect) calls it.
    pub async fn lookup_servers(&self) -> Result<Vec<ServerUrl>, Error> {
        match &self.source {
            ServerSource::Srv { config, domain } => {
                crate::srv::lookup(config, domain, self.dns_server).await
            }
            _ => Ok(self.servers.clone()),
        }
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

    /// What resolving with the configuration file `config` fails with, causes and all.
    fn refused(config: &Path) -> String {
        let options = ConnectOptions {
            config: Some(config.to_owned()),
            ..Default::default()
        };
        let err = Settings::resolve_with(&options, None, &[]).unwrap_err();
        lifecycle_core::ErrorChain(&err).to_string()
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
        assert_eq!(
            refused(&config),
            format!(
                "configuration file {}: plugin.security.file.key: file {} does not exist",
                config.display(),
                dir.join("missing-key.pem").display()
            )
        );

        let config = write(dir, "bogus.conf", "plugin.security.provider = pkcs11\n");
        assert_eq!(
            refused(&config),
            format!(
                "configuration file {}: plugin.security.provider: 'pkcs11' is not supported; use \
                 'file' with certificate, key and ca, or 'puppet'",
                config.display()
            )
        );
    }

    fn puppet_env(home: &Path) -> ChoriaEnvironment {
        ChoriaEnvironment {
            home: Some(home.to_owned()),
            user: Some("alice".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_puppet_provider_names_the_missing_file_and_the_key() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let ssl = dir.join("ssl");
        std::fs::create_dir_all(ssl.join("certs")).unwrap();
        std::fs::create_dir_all(ssl.join("private_keys")).unwrap();
        write(&ssl, "certs/alice.mcollective.pem", "c");
        write(&ssl, "certs/ca.pem", "ca");
        let with_dir = write(
            dir,
            "with-dir.conf",
            &format!(
                "plugin.security.provider = puppet\nplugin.choria.ssldir = {}\n",
                ssl.display()
            ),
        );
        let without_dir = write(
            dir,
            "without-dir.conf",
            "plugin.security.provider = puppet\n",
        );
        let env = |config: &Path, home: &Path| {
            let options = ConnectOptions {
                config: Some(config.to_owned()),
                ..Default::default()
            };
            let environment = Environment {
                choria: puppet_env(home),
                ..Default::default()
            };
            Settings::resolve_in(&options, &environment)
        };
        let key = ssl.join("private_keys/alice.mcollective.pem");
        let err = env(&with_dir, dir).unwrap_err();
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            format!(
                "configuration file {}: plugin.choria.ssldir: file {} does not exist (the \
                 puppet security provider's key for alice.mcollective)",
                with_dir.display(),
                key.display()
            )
        );
        // Without plugin.choria.ssldir, the user's default under HOME; the provider is at fault.
        let home_ssl = dir.join(".puppetlabs/etc/puppet/ssl");
        let err = env(&without_dir, dir).unwrap_err();
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            format!(
                "configuration file {}: plugin.security.provider: file {} does not exist (the \
                 puppet security provider's certificate for alice.mcollective)",
                without_dir.display(),
                home_ssl.join("certs/alice.mcollective.pem").display()
            )
        );

        write(&ssl, "private_keys/alice.mcollective.pem", "k");
        let settings = env(&with_dir, dir).unwrap();
        assert_eq!(
            settings.tls,
            Some(TlsFiles {
                certificate: ssl.join("certs/alice.mcollective.pem"),
                key,
                ca: ssl.join("certs/ca.pem"),
            })
        );
    }

    #[test]
    fn a_srv_domain_is_looked_up_only_without_other_servers() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let srv = write(dir, "srv.conf", "plugin.choria.srv_domain = example.net\n");
        let hosts = write(
            dir,
            "hosts.conf",
            "plugin.choria.srv_domain = example.net\nplugin.choria.middleware_hosts = b1:4222\n",
        );
        let off = write(
            dir,
            "off.conf",
            "plugin.choria.srv_domain = example.net\nplugin.choria.use_srv = no\n",
        );
        let resolve = |config: &Path, nats_url: Option<&str>| {
            let options = ConnectOptions {
                config: Some(config.to_owned()),
                ..Default::default()
            };
            let environment = Environment {
                nats_url: nats_url.map(str::to_owned),
                ..Default::default()
            };
            let s = Settings::resolve_in(&options, &environment).unwrap();
            (shown(&s), s.source)
        };
        let looked_up = ServerSource::Srv {
            config: srv.clone(),
            domain: "example.net".into(),
        };
        assert_eq!(resolve(&srv, None), (vec![], looked_up));
        assert_eq!(
            resolve(&srv, Some("nats://env:4222")),
            (
                vec!["nats://env:4222".to_owned()],
                ServerSource::Environment
            )
        );
        assert_eq!(
            resolve(&hosts, None),
            (
                vec!["nats://b1:4222".to_owned()],
                ServerSource::ChoriaConfig(hosts.clone())
            )
        );
        assert_eq!(
            resolve(&off, None),
            (vec![DEFAULT_SERVER.to_owned()], ServerSource::Default)
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
