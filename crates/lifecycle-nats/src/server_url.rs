//! NATS server URLs, whose credentials (`nats://user:password@host`, `nats://token@host`)
//! are taken out for the connection and never shown.

use std::fmt;

use async_nats::ServerAddr;
use percent_encoding::percent_decode_str;

use lifecycle_secret::{Secret, check_url, redact, redact_str};

use crate::error::{Error, ErrorKind, Source};

/// The schemes of NATS server URLs.
const SCHEMES: &[&str] = &["nats", "tls", "ws", "wss"];

/// A NATS server URL. Its password or token never shows: `Display` and `Debug` give
/// `nats://***@broker:4222`, as [`lifecycle_secret::redact`] shows every URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The URL without credentials: what async-nats is given, so its own logs hold none.
    address: ServerAddr,
    credentials: Option<UrlCredentials>,
    shown: String,
}

/// Credentials given in a server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlCredentials {
    /// `nats://user:password@host`.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// `nats://token@host`: a user name without a password is a token, as in Choria's Go
    /// client (nats.go).
    Token(Secret),
}

impl ServerUrl {
    /// Parses `server`, a URL (`nats://`, `tls://`, `ws://`, `wss://`) or `host:port`
    /// (which becomes `nats://host:port`). The error of a refused one says what is wrong
    /// with it, without quoting it.
    pub fn parse(server: &str) -> Result<ServerUrl, Error> {
        let invalid = |why: Source| Error::with_source(ErrorKind::InvalidServer, why);
        let checked = check_url(&with_scheme(server), SCHEMES).map_err(|e| invalid(e.into()))?;
        let shown = redact(&checked);
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|d| d.into_owned())
                .map_err(|_| invalid("a user or password that is not UTF-8 once decoded".into()))
        };
        let user = Some(checked.username())
            .filter(|user| !user.is_empty())
            .map(decode)
            .transpose()?;
        let password = checked.password().map(decode).transpose()?;
        let credentials = match (user, password) {
            (None, None) => None,
            (Some(token), None) => Some(UrlCredentials::Token(Secret::new(token))),
            (user, Some(password)) => Some(UrlCredentials::UserPassword {
                user: user.unwrap_or_default(),
                password: Secret::new(password),
            }),
        };
        let mut bare = checked;
        // Both only fail for URLs that cannot have credentials, which these have parsed as.
        let _ = bare.set_password(None);
        let _ = bare.set_username("");
        // async-nats' own checks; its error is not kept: it may quote the URL.
        let address =
            ServerAddr::from_url(bare).map_err(|_| invalid("refused by the NATS client".into()))?;
        Ok(ServerUrl {
            address,
            credentials,
            shown,
        })
    }

    /// The URL without its credentials.
    pub(crate) fn address(&self) -> &ServerAddr {
        &self.address
    }

    pub(crate) fn credentials(&self) -> Option<&UrlCredentials> {
        self.credentials.as_ref()
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shown, f)
    }
}

/// The credentials every server URL that has some agrees on: one connection authenticates
/// the same way with each server it tries.
pub(crate) fn shared_credentials(servers: &[ServerUrl]) -> Result<Option<&UrlCredentials>, Error> {
    let mut with = servers.iter().filter_map(ServerUrl::credentials);
    let Some(first) = with.next() else {
        return Ok(None);
    };
    if with.any(|other| other != first) {
        return Err(Error::new(ErrorKind::ConflictingCredentials {
            servers: servers.iter().map(ToString::to_string).collect(),
        }));
    }
    Ok(Some(first))
}

/// `server` as given to [`ServerUrl::parse`]: `host:port` means `nats://host:port`.
fn with_scheme(server: &str) -> String {
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("nats://{server}")
    }
}

/// `server`, valid or not, as every output shows it (for options not yet parsed).
pub(crate) fn shown(server: &str) -> String {
    redact_str(&with_scheme(server))
}

pub(crate) fn split_servers<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_shown_by_the_one_rule() {
        let cases = [
            ("nats://alice:s3cret@host:4222", "nats://***@host:4222"),
            ("nats://t0ken@host:4222", "nats://***@host:4222"),
            ("alice:s3cret@host:4222", "nats://***@host:4222"),
            ("nats://alice:p@ss@host", "nats://***@host"),
            ("nats://host:4222", "nats://host:4222"),
            ("tls://:s3cret@host", "tls://***@host"),
            (
                "nats://alice:s3cret@host:99999",
                "(invalid URL: invalid port number)",
            ),
            ("", "nats://"),
        ];
        for (url, expected) in cases {
            assert_eq!(shown(url), expected, "{url}");
        }
    }

    #[test]
    fn credentials_are_taken_out_and_decoded() {
        let url = ServerUrl::parse("nats://alice:p%40ss%3Aw0rd@broker.example.net:4222").unwrap();
        assert_eq!(url.to_string(), "nats://***@broker.example.net:4222");
        assert_eq!(format!("{url:?}"), "\"nats://***@broker.example.net:4222\"");
        assert_eq!(
            url.credentials(),
            Some(&UrlCredentials::UserPassword {
                user: "alice".into(),
                password: Secret::new("p@ss:w0rd"),
            })
        );
        assert_eq!(url.address().as_url_str(), "nats://broker.example.net:4222");
        assert!(!format!("{:?}", url.address()).contains("w0rd"));

        let token = ServerUrl::parse("s3cr3t@127.0.0.1:4222").unwrap();
        assert_eq!(token.to_string(), "nats://***@127.0.0.1:4222");
        assert_eq!(
            token.credentials(),
            Some(&UrlCredentials::Token(Secret::new("s3cr3t")))
        );
        assert_eq!(token.address().as_url_str(), "nats://127.0.0.1:4222");

        let plain = ServerUrl::parse("tls://broker:4443").unwrap();
        assert_eq!(plain.credentials(), None);
        assert_eq!(plain.to_string(), "tls://broker:4443");
    }

    #[test]
    fn a_refused_url_is_named_without_its_secret() {
        for (bad, reason) in [
            ("nats://alice:s3cret@", "empty host"),
            (
                "nats://alice:s3cret@a b",
                "white space or a control character in it",
            ),
            (
                "http://alice:s3cret@host",
                "unknown scheme 'http' (expected nats://, tls://, ws:// or wss://)",
            ),
            ("nats://alice:s3cret@host:99999", "invalid port number"),
            (
                "nats://alice:%ff@host",
                "a user or password that is not UTF-8 once decoded",
            ),
        ] {
            let err = ServerUrl::parse(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidServer);
            assert_eq!(err.to_string(), "invalid NATS server URL");
            assert_eq!(
                lifecycle_core::ErrorChain(&err).to_string(),
                format!("invalid NATS server URL: {reason}")
            );
            assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
            assert!(!format!("{err:?}").contains("alice"), "{err:?}");
        }
    }

    #[test]
    fn servers_must_agree_on_credentials() {
        let parse = |s: &str| ServerUrl::parse(s).unwrap();
        let same = [
            parse("nats://a:pw@one:4222"),
            parse("nats://two:4222"),
            parse("nats://a:pw@three:4222"),
        ];
        assert!(matches!(
            shared_credentials(&same),
            Ok(Some(UrlCredentials::UserPassword { .. }))
        ));
        let differ = [
            parse("nats://a:pw@one:4222"),
            parse("nats://a:other@two:4222"),
        ];
        let err = shared_credentials(&differ).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the NATS server URLs nats://***@one:4222, nats://***@two:4222 hold different \
             credentials; one connection authenticates the same way with every server"
        );
        assert!(matches!(shared_credentials(&[parse("one:4222")]), Ok(None)));
    }
}
