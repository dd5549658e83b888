//! The parts of a Choria client configuration that say how to reach the brokers.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::server_url::ServerUrl;
use crate::server_url::split_servers;

const MIDDLEWARE_HOSTS: &str = "plugin.choria.middleware_hosts";
const SRV_DOMAIN: &str = "plugin.choria.srv_domain";
const USE_SRV: &str = "plugin.choria.use_srv";
const SECURITY_PROVIDER: &str = "plugin.security.provider";
const CERTIFICATE: &str = "plugin.security.file.certificate";
const KEY: &str = "plugin.security.file.key";
const CA: &str = "plugin.security.file.ca";
const SSL_DIR: &str = "plugin.choria.ssldir";

/// Root's Puppet ssl directory (`puppet config print ssldir` as root, which Choria asks).
pub const PUPPET_ROOT_SSL_DIR: &str = "/etc/puppetlabs/puppet/ssl";
/// A user's Puppet ssl directory, under the home directory.
pub const PUPPET_USER_SSL_DIR: &str = ".puppetlabs/etc/puppet/ssl";

/// What a Choria client configuration file (`key = value` lines, `#` or `;` comments, the
/// last setting of a key wins) says about the brokers.
///
/// ```
/// use std::path::Path;
/// use lifecycle_nats::ChoriaConfig;
///
/// let text = "plugin.choria.middleware_hosts = nats://alice:s3cret@b1:4222, b2:4222\n";
/// let config = ChoriaConfig::parse(text, Path::new("client.conf")).unwrap();
/// let hosts: Vec<String> = config.middleware_hosts.iter().map(|h| h.to_string()).collect();
/// assert_eq!(hosts, ["nats://***@b1:4222", "nats://b2:4222"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoriaConfig {
    /// The file it came from, for messages.
    pub path: PathBuf,
    /// `plugin.choria.middleware_hosts`: the brokers.
    pub middleware_hosts: Vec<ServerUrl>,
    /// Mutual TLS, with `plugin.security.provider = file` or `puppet`.
    pub tls: Option<TlsFiles>,
    /// The domain whose DNS SRV records name the brokers when `middleware_hosts` is empty
    /// (`_mcollective-server._tcp.DOMAIN`, then `_x-puppet-mcollective._tcp.DOMAIN`):
    /// `CHORIA_SRV_DOMAIN`, else `plugin.choria.srv_domain`; none when neither is set or
    /// `plugin.choria.use_srv` is false.
    pub srv_domain: Option<String>,
    /// Which keys gave `tls`, for messages.
    tls_origin: Option<TlsOrigin>,
}

/// Mutual-TLS files from the Choria configuration's security provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The client certificate (`plugin.security.file.certificate`, or Puppet's
    /// `certs/CERTNAME.pem`).
    pub certificate: PathBuf,
    /// The client key (`plugin.security.file.key`, or Puppet's `private_keys/CERTNAME.pem`).
    pub key: PathBuf,
    /// The CA that signed the brokers (`plugin.security.file.ca`, or Puppet's
    /// `certs/ca.pem`).
    pub ca: PathBuf,
}

/// Which provider gave the TLS files, to name the key at fault when one is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TlsOrigin {
    File,
    /// The key that chose the ssl directory (`plugin.choria.ssldir`, or the provider's
    /// when that is unset and the default applies), and the certificate name.
    Puppet {
        key: &'static str,
        certname: String,
    },
}

/// What Choria's client reads from its environment beside the configuration file: the
/// puppet security provider's certificate name and ssl directory, and the SRV domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChoriaEnvironment {
    /// `HOME`: a user's Puppet ssl directory is under it, and `~` in `plugin.choria.ssldir`.
    pub home: Option<PathBuf>,
    /// `USER`: without `MCOLLECTIVE_CERTNAME`, the certificate name is `USER.mcollective`.
    pub user: Option<String>,
    /// `MCOLLECTIVE_CERTNAME`: the certificate name, when set.
    pub certname: Option<String>,
    /// `CHORIA_SRV_DOMAIN`: wins over `plugin.choria.srv_domain`, as in Choria.
    pub srv_domain: Option<String>,
    /// Whether the effective user is root, whose Puppet ssl directory is
    /// [`PUPPET_ROOT_SSL_DIR`] rather than [`PUPPET_USER_SSL_DIR`] under `HOME`.
    pub root: bool,
}

impl ChoriaEnvironment {
    /// This process's environment (variables set but empty count as unset).
    pub fn of_process() -> ChoriaEnvironment {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        ChoriaEnvironment {
            home: var("HOME").map(PathBuf::from),
            user: var("USER"),
            certname: var("MCOLLECTIVE_CERTNAME"),
            srv_domain: var("CHORIA_SRV_DOMAIN"),
            root: effective_root(),
        }
    }
}

#[cfg(unix)]
fn effective_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(not(unix))]
fn effective_root() -> bool {
    false
}

impl ChoriaConfig {
    /// Reads and parses `path` in this process's environment, and checks that the TLS files
    /// it names can be read.
    pub fn load(path: &Path) -> Result<ChoriaConfig, Error> {
        ChoriaConfig::load_in(path, &ChoriaEnvironment::of_process())
    }

    /// [`ChoriaConfig::load`] in the environment `env`.
    pub fn load_in(path: &Path, env: &ChoriaEnvironment) -> Result<ChoriaConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_source(
                ErrorKind::ConfigUnreadable {
                    path: path.to_owned(),
                },
                e,
            )
        })?;
        let config = ChoriaConfig::parse_in(&text, path, env)?;
        config.check_tls_files()?;
        Ok(config)
    }

    /// Fails, naming the file, the key and the TLS file, when one cannot be read.
    fn check_tls_files(&self) -> Result<(), Error> {
        let (Some(tls), Some(origin)) = (&self.tls, &self.tls_origin) else {
            return Ok(());
        };
        for (file, what, file_key) in [
            (&tls.certificate, "certificate", CERTIFICATE),
            (&tls.key, "key", KEY),
            (&tls.ca, "CA", CA),
        ] {
            let (key, whose) = match origin {
                TlsOrigin::File => (file_key, String::new()),
                TlsOrigin::Puppet { key, certname } => (
                    *key,
                    format!(" (the puppet security provider's {what} for {certname})"),
                ),
            };
            let name = file.display();
            if !file.is_file() {
                let problem = format!("file {name} does not exist{whose}");
                return Err(Error::config(&self.path, key, problem));
            }
            std::fs::File::open(file).map_err(|e| {
                let problem = format!("file {name} cannot be read{whose}");
                Error::config_with_source(&self.path, key, Some(problem), e)
            })?;
        }
        Ok(())
    }

    /// Parses the text of a configuration file in this process's environment; `path` only
    /// names it in errors. Touches no file, and fails (never panics) on any text it cannot
    /// use, naming the key.
    pub fn parse(text: &str, path: &Path) -> Result<ChoriaConfig, Error> {
        ChoriaConfig::parse_in(text, path, &ChoriaEnvironment::of_process())
    }

    /// [`ChoriaConfig::parse`] in the environment `env`.
    pub fn parse_in(
        text: &str,
        path: &Path,
        env: &ChoriaEnvironment,
    ) -> Result<ChoriaConfig, Error> {
        let value = |key: &str| -> Option<&str> {
            text.lines()
                .rev()
                .map(str::trim)
                .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
                .filter_map(|l| l.split_once('='))
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim())
                .next()
        };
        let middleware_hosts = split_servers(value(MIDDLEWARE_HOSTS).into_iter())
            .iter()
            .map(|host| {
                ServerUrl::parse(host)
                    .map_err(|e| Error::config_with_source(path, MIDDLEWARE_HOSTS, None, e))
            })
            .collect::<Result<_, _>>()?;
        let (tls, tls_origin) = match value(SECURITY_PROVIDER) {
            None | Some("") => (None, None),
            Some("file") => {
                let file = |key: &str| -> Result<PathBuf, Error> {
                    value(key)
                        .filter(|v| !v.is_empty())
                        .map(PathBuf::from)
                        .ok_or_else(|| {
                            Error::config(
                                path,
                                key,
                                "required by the file security provider, but not set",
                            )
                        })
                };
                let files = TlsFiles {
                    certificate: file(CERTIFICATE)?,
                    key: file(KEY)?,
                    ca: file(CA)?,
                };
                (Some(files), Some(TlsOrigin::File))
            }
            Some("puppet") => {
                let ssl_dir = value(SSL_DIR).filter(|v| !v.is_empty());
                let (files, origin) = puppet_files(ssl_dir, path, env)?;
                (Some(files), Some(origin))
            }
            Some(other) => {
                return Err(Error::config(
                    path,
                    SECURITY_PROVIDER,
                    format!(
                        "'{other}' is not supported; use 'file' with certificate, key and ca, \
                         or 'puppet'"
                    ),
                ));
            }
        };
        let use_srv = match value(USE_SRV) {
            None | Some("") => true,
            Some(v) => parse_bool(v).ok_or_else(|| {
                Error::config(
                    path,
                    USE_SRV,
                    format!("'{v}' is not a boolean (true, yes, y, t, 1 or false, no, n, f, 0)"),
                )
            })?,
        };
        let srv_domain = match (env.srv_domain.as_deref(), value(SRV_DOMAIN)) {
            (Some(domain), _) => Some(domain),
            (None, Some(domain)) if !domain.is_empty() => Some(domain),
            _ => None,
        }
        .filter(|_| use_srv)
        .map(|domain| check_domain(domain, path))
        .transpose()?;
        Ok(ChoriaConfig {
            path: path.to_owned(),
            middleware_hosts,
            tls,
            srv_domain,
            tls_origin,
        })
    }
}

/// The puppet security provider's files, as Choria finds them: `certs/CERTNAME.pem`,
/// `private_keys/CERTNAME.pem` and `certs/ca.pem` in the ssl directory
/// (`plugin.choria.ssldir`, else root's or the user's Puppet one); the certificate name is
/// `MCOLLECTIVE_CERTNAME`, else `USER.mcollective` (root's too: a client is named for its
/// user).
fn puppet_files(
    ssl_dir: Option<&str>,
    path: &Path,
    env: &ChoriaEnvironment,
) -> Result<(TlsFiles, TlsOrigin), Error> {
    let certname = match (&env.certname, &env.user) {
        (Some(certname), _) => certname.clone(),
        (None, Some(user)) => format!("{user}.mcollective"),
        (None, None) => {
            return Err(Error::config(
                path,
                SECURITY_PROVIDER,
                "the puppet security provider names the certificate MCOLLECTIVE_CERTNAME, \
                 else USER.mcollective, but neither MCOLLECTIVE_CERTNAME nor USER is set",
            ));
        }
    };
    // The name becomes a file name in the ssl directory, never a path out of it.
    if certname == "." || certname == ".." || certname.contains(['/', '\\', '\0']) {
        return Err(Error::config(
            path,
            SECURITY_PROVIDER,
            format!(
                "the puppet security provider's certificate name '{}' is not a file name",
                certname.escape_debug()
            ),
        ));
    }
    let (dir, key) = match ssl_dir {
        Some(dir) => (expand_home(dir, env.home.as_deref(), path)?, SSL_DIR),
        None if env.root => (PathBuf::from(PUPPET_ROOT_SSL_DIR), SECURITY_PROVIDER),
        None => match &env.home {
            Some(home) => (home.join(PUPPET_USER_SSL_DIR), SECURITY_PROVIDER),
            None => {
                return Err(Error::config(
                    path,
                    SSL_DIR,
                    format!(
                        "not set, and HOME is not set for a user's default ~/{PUPPET_USER_SSL_DIR}"
                    ),
                ));
            }
        },
    };
    let pem = format!("{certname}.pem");
    let files = TlsFiles {
        certificate: dir.join("certs").join(&pem),
        key: dir.join("private_keys").join(&pem),
        ca: dir.join("certs").join("ca.pem"),
    };
    Ok((files, TlsOrigin::Puppet { key, certname }))
}

/// `~` or `~/rest` under the home directory, as Choria expands path settings.
fn expand_home(dir: &str, home: Option<&Path>, path: &Path) -> Result<PathBuf, Error> {
    let rest = match dir.strip_prefix('~') {
        None => return Ok(PathBuf::from(dir)),
        Some(rest) => rest.trim_start_matches('/'),
    };
    match home {
        Some(home) if rest.is_empty() => Ok(home.to_owned()),
        Some(home) => Ok(home.join(rest)),
        None => Err(Error::config(
            path,
            SSL_DIR,
            format!("'{dir}' starts with ~, but HOME is not set"),
        )),
    }
}

/// A boolean as Choria reads one: `1`, `yes`, `true`, `y`, `t` or `0`, `no`, `false`, `n`,
/// `f`, in any case.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "y" | "t" => Some(true),
        "0" | "no" | "false" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// A domain to put in SRV names: not empty, no white space or control characters, its
/// trailing dot dropped.
fn check_domain(domain: &str, path: &Path) -> Result<String, Error> {
    let trimmed = domain.trim_end_matches('.');
    if trimmed.is_empty() || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::config(
            path,
            SRV_DOMAIN,
            format!("'{}' is not a domain name", domain.escape_debug()),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_last_setting_wins_and_comments_are_skipped() {
        let text = "plugin.choria.middleware_hosts = a:4222\n# plugin.choria.middleware_hosts = x:1\n\
                    ; plugin.security.provider = puppet\n  plugin.choria.middleware_hosts=b:4222 , c:4222 \n\
                    plugin.security.provider = file\nplugin.security.file.certificate = /c.pem\n\
                    plugin.security.file.key = /k.pem\nplugin.security.file.ca = /ca.pem\n";
        let config = ChoriaConfig::parse(text, Path::new("client.conf")).unwrap();
        let hosts: Vec<String> = config
            .middleware_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["nats://b:4222", "nats://c:4222"]);
        assert_eq!(
            config.tls,
            Some(TlsFiles {
                certificate: "/c.pem".into(),
                key: "/k.pem".into(),
                ca: "/ca.pem".into(),
            })
        );
    }

    #[test]
    fn errors_name_the_file_and_key_and_hide_secrets() {
        let err = ChoriaConfig::parse(
            "plugin.choria.middleware_hosts = nats://alice:s3cret@a b:4222\n",
            Path::new("/etc/choria/client.conf"),
        )
        .unwrap_err();
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            "configuration file /etc/choria/client.conf: plugin.choria.middleware_hosts: \
             invalid NATS server URL: white space or a control character in it"
        );
        assert!(!format!("{err:?}").contains("s3cret"));

        let err = ChoriaConfig::parse(
            "plugin.security.provider = file\nplugin.security.file.certificate = /c.pem\n",
            Path::new("c.conf"),
        )
        .unwrap_err();
        assert_eq!(
            lifecycle_core::ErrorChain(&err).to_string(),
            "configuration file c.conf: plugin.security.file.key: required by the file security \
             provider, but not set"
        );
    }

    #[test]
    fn debug_output_hides_passwords_in_hosts() {
        let config = ChoriaConfig::parse(
            "plugin.choria.middleware_hosts = nats://alice:s3cret@b1:4222\n",
            Path::new("c.conf"),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("nats://***@b1:4222"), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    fn env(
        home: Option<&str>,
        user: Option<&str>,
        certname: Option<&str>,
        root: bool,
    ) -> ChoriaEnvironment {
        ChoriaEnvironment {
            home: home.map(PathBuf::from),
            user: user.map(str::to_owned),
            certname: certname.map(str::to_owned),
            srv_domain: None,
            root,
        }
    }

    #[test]
    fn the_puppet_provider_finds_its_files_as_choria_does() {
        let puppet = "plugin.security.provider = puppet\n";
        let with_dir = "plugin.security.provider = puppet\nplugin.choria.ssldir = /srv/ssl\n";
        let tilde = "plugin.security.provider = puppet\nplugin.choria.ssldir = ~/ssl\n";
        let alice = env(Some("/home/alice"), Some("alice"), None, false);
        // (configuration, environment, ssl directory, certificate name)
        let cases = [
            (
                puppet,
                alice.clone(),
                "/home/alice/.puppetlabs/etc/puppet/ssl",
                "alice.mcollective",
            ),
            (with_dir, alice.clone(), "/srv/ssl", "alice.mcollective"),
            (tilde, alice.clone(), "/home/alice/ssl", "alice.mcollective"),
            // MCOLLECTIVE_CERTNAME wins over USER.
            (
                puppet,
                env(
                    Some("/home/alice"),
                    Some("alice"),
                    Some("ops.example.net"),
                    false,
                ),
                "/home/alice/.puppetlabs/etc/puppet/ssl",
                "ops.example.net",
            ),
            // Root's directory is Puppet's own; a client is still named for its user.
            (
                puppet,
                env(Some("/root"), Some("root"), None, true),
                PUPPET_ROOT_SSL_DIR,
                "root.mcollective",
            ),
            (
                with_dir,
                env(None, Some("root"), None, true),
                "/srv/ssl",
                "root.mcollective",
            ),
            (
                puppet,
                env(None, None, Some("n1.example.net"), true),
                PUPPET_ROOT_SSL_DIR,
                "n1.example.net",
            ),
        ];
        for (text, environment, dir, certname) in cases {
            let config = ChoriaConfig::parse_in(text, Path::new("c.conf"), &environment).unwrap();
            let dir = Path::new(dir);
            assert_eq!(
                config.tls,
                Some(TlsFiles {
                    certificate: dir.join(format!("certs/{certname}.pem")),
                    key: dir.join(format!("private_keys/{certname}.pem")),
                    ca: dir.join("certs/ca.pem"),
                }),
                "{text:?} in {environment:?}"
            );
        }
    }

    #[test]
    fn the_puppet_provider_says_what_it_lacks() {
        let puppet = "plugin.security.provider = puppet\n";
        let tilde = "plugin.security.provider = puppet\nplugin.choria.ssldir = ~/ssl\n";
        let cases = [
            (
                puppet,
                env(Some("/home/x"), None, None, false),
                "plugin.security.provider: the puppet security provider names the certificate \
                 MCOLLECTIVE_CERTNAME, else USER.mcollective, but neither MCOLLECTIVE_CERTNAME \
                 nor USER is set",
            ),
            (
                puppet,
                env(None, Some("alice"), None, false),
                "plugin.choria.ssldir: not set, and HOME is not set for a user's default \
                 ~/.puppetlabs/etc/puppet/ssl",
            ),
            (
                tilde,
                env(None, Some("alice"), None, false),
                "plugin.choria.ssldir: '~/ssl' starts with ~, but HOME is not set",
            ),
            (
                puppet,
                env(Some("/h"), None, Some("../../etc/x"), false),
                "plugin.security.provider: the puppet security provider's certificate name \
                 '../../etc/x' is not a file name",
            ),
        ];
        for (text, environment, message) in cases {
            let err = ChoriaConfig::parse_in(text, Path::new("c.conf"), &environment).unwrap_err();
            assert_eq!(
                lifecycle_core::ErrorChain(&err).to_string(),
                format!("configuration file c.conf: {message}"),
                "{environment:?}"
            );
        }
    }

    #[test]
    fn srv_lookups_follow_the_domain_and_use_srv() {
        let from_env = ChoriaEnvironment {
            srv_domain: Some("env.example.net".into()),
            ..Default::default()
        };
        let none = ChoriaEnvironment::default();
        // (configuration, environment, the domain to look up)
        let cases = [
            ("", &none, None),
            (
                "plugin.choria.srv_domain = example.net\n",
                &none,
                Some("example.net"),
            ),
            (
                "plugin.choria.srv_domain = example.net.\n",
                &none,
                Some("example.net"),
            ),
            ("plugin.choria.srv_domain =\n", &none, None),
            (
                "plugin.choria.srv_domain = example.net\n",
                &from_env,
                Some("env.example.net"),
            ),
            ("", &from_env, Some("env.example.net")),
            (
                "plugin.choria.srv_domain = example.net\nplugin.choria.use_srv = false\n",
                &none,
                None,
            ),
            (
                "plugin.choria.srv_domain = example.net\nplugin.choria.use_srv = N\n",
                &none,
                None,
            ),
            ("plugin.choria.use_srv = 0\n", &from_env, None),
            (
                "plugin.choria.srv_domain = example.net\nplugin.choria.use_srv = Yes\n",
                &none,
                Some("example.net"),
            ),
            (
                "plugin.choria.srv_domain = example.net\nplugin.choria.use_srv = 1\n",
                &none,
                Some("example.net"),
            ),
        ];
        for (text, environment, domain) in cases {
            let config = ChoriaConfig::parse_in(text, Path::new("c.conf"), environment).unwrap();
            assert_eq!(
                config.srv_domain.as_deref(),
                domain,
                "{text:?} {environment:?}"
            );
        }

        for (text, message) in [
            (
                "plugin.choria.use_srv = maybe\n",
                "plugin.choria.use_srv: 'maybe' is not a boolean (true, yes, y, t, 1 or false, \
                 no, n, f, 0)",
            ),
            (
                "plugin.choria.srv_domain = a b\n",
                "plugin.choria.srv_domain: 'a b' is not a domain name",
            ),
            (
                "plugin.choria.srv_domain = .\n",
                "plugin.choria.srv_domain: '.' is not a domain name",
            ),
        ] {
            let err = ChoriaConfig::parse_in(text, Path::new("c.conf"), &none).unwrap_err();
            assert_eq!(
                lifecycle_core::ErrorChain(&err).to_string(),
                format!("configuration file c.conf: {message}")
            );
        }
    }

    /// A line of a configuration: a key it reads (or not), any separator, any value.
    fn line() -> impl Strategy<Value = String> {
        let keys = vec![
            MIDDLEWARE_HOSTS,
            SRV_DOMAIN,
            USE_SRV,
            SSL_DIR,
            SECURITY_PROVIDER,
            CERTIFICATE,
            KEY,
            CA,
            "x",
            "",
        ];
        let separators = vec!["=", " = ", "", "#", "=="];
        let values = prop_oneof![
            any::<String>(),
            Just("file".to_owned()),
            Just("puppet".to_owned()),
            "[a-z:/@%.\\[\\] ,0-9\u{0}-\u{1f}\u{80}-\u{10ffff}]{0,40}",
        ];
        (
            prop::sample::select(keys),
            prop::sample::select(separators),
            values,
        )
            .prop_map(|(key, separator, value)| format!("{key}{separator}{value}"))
    }

    proptest! {
        #[test]
        fn no_text_panics(text in any::<String>()) {
            let _ = ChoriaConfig::parse(&text, Path::new("fuzz.conf"));
        }

        #[test]
        fn no_configuration_panics(lines in prop::collection::vec(line(), 0..8)) {
            let _ = ChoriaConfig::parse(&lines.join("\n"), Path::new("fuzz.conf"));
        }
    }
}
