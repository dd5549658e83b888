//! The parts of a Choria client configuration that say how to reach the brokers.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::server_url::ServerUrl;
use crate::server_url::split_servers;

const MIDDLEWARE_HOSTS: &str = "plugin.choria.middleware_hosts";
const SECURITY_PROVIDER: &str = "plugin.security.provider";
const CERTIFICATE: &str = "plugin.security.file.certificate";
const KEY: &str = "plugin.security.file.key";
const CA: &str = "plugin.security.file.ca";

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
    /// Mutual TLS, with `plugin.security.provider = file`.
    pub tls: Option<TlsFiles>,
}

/// Mutual-TLS files from the Choria configuration's file security provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The client certificate (`plugin.security.file.certificate`).
    pub certificate: PathBuf,
    /// The client key (`plugin.security.file.key`).
    pub key: PathBuf,
    /// The CA that signed the brokers (`plugin.security.file.ca`).
    pub ca: PathBuf,
}

impl ChoriaConfig {
    /// Reads and parses `path`, and checks that the TLS files it names can be read.
    pub fn load(path: &Path) -> Result<ChoriaConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_source(
                ErrorKind::ConfigUnreadable {
                    path: path.to_owned(),
                },
                e,
            )
        })?;
        let config = ChoriaConfig::parse(&text, path)?;
        if let Some(tls) = &config.tls {
            for (key, file) in [
                (CERTIFICATE, &tls.certificate),
                (KEY, &tls.key),
                (CA, &tls.ca),
            ] {
                let name = file.display();
                if !file.is_file() {
                    return Err(Error::config(
                        path,
                        key,
                        format!("file {name} does not exist"),
                    ));
                }
                std::fs::File::open(file).map_err(|e| {
                    let problem = format!("file {name} cannot be read");
                    Error::config_with_source(path, key, Some(problem), e)
                })?;
            }
        }
        Ok(config)
    }

    /// Parses the text of a configuration file; `path` only names it in errors. Touches no
    /// file, and fails (never panics) on any text it cannot use, naming the key.
    pub fn parse(text: &str, path: &Path) -> Result<ChoriaConfig, Error> {
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
        let tls = match value(SECURITY_PROVIDER) {
            None | Some("") => None,
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
                Some(TlsFiles {
                    certificate: file(CERTIFICATE)?,
                    key: file(KEY)?,
                    ca: file(CA)?,
                })
            }
            Some(other) => {
                return Err(Error::config(
                    path,
                    SECURITY_PROVIDER,
                    format!("'{other}' is not supported; use 'file' with certificate, key and ca"),
                ));
            }
        };
        Ok(ChoriaConfig {
            path: path.to_owned(),
            middleware_hosts,
            tls,
        })
    }
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

    /// A line of a configuration: a key it reads (or not), any separator, any value.
    fn line() -> impl Strategy<Value = String> {
        let keys = vec![
            MIDDLEWARE_HOSTS,
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
