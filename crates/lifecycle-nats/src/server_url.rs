//! NATS server URLs, whose credentials (`nats://user:password@host`, `nats://token@host`)
//! are taken out for the connection and never shown.

use std::fmt;

use async_nats::ServerAddr;
use percent_encoding::percent_decode_str;

use crate::error::{Error, ErrorKind};
use crate::settings::Secret;

/// A NATS server URL. Its password or token never shows: `Display` and `Debug` give
/// `nats://alice:***@broker:4222` (or `nats://***@broker:4222` for a token).
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
    /// (which becomes `nats://host:port`). A refused one is named, redacted, in the error.
    pub fn parse(server: &str) -> Result<ServerUrl, Error> {
        let url = if server.contains("://") {
            server.to_owned()
        } else {
            format!("nats://{server}")
        };
        let shown = redact(&url);
        let invalid = || Error::new(ErrorKind::InvalidServer(redact(server)));
        let valid_scheme = ["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        let host = url.split_once("://").map_or("", |(_, rest)| rest);
        if !valid_scheme || host.is_empty() || url.contains(|c: char| c.is_whitespace()) {
            return Err(invalid());
        }
        // async-nats' own parser (the url crate); its error is not kept: it may quote the URL.
        let parsed: ServerAddr = url.parse().map_err(|_| invalid())?;
        let decode = |s: &str| percent_decode_str(s).decode_utf8().map(|d| d.into_owned());
        let user = parsed
            .username()
            .map(decode)
            .transpose()
            .map_err(|_| invalid())?;
        let password = parsed
            .password()
            .map(decode)
            .transpose()
            .map_err(|_| invalid())?;
        let credentials = match (user, password) {
            (None, None) => None,
            (Some(token), None) => Some(UrlCredentials::Token(Secret::new(token))),
            (user, Some(password)) => Some(UrlCredentials::UserPassword {
                user: user.unwrap_or_default(),
                password: Secret::new(password),
            }),
        };
        let mut bare = parsed.into_inner();
        // Both only fail for URLs that cannot have credentials, which these have parsed as.
        let _ = bare.set_password(None);
        let _ = bare.set_username("");
        let address = ServerAddr::from_url(bare).map_err(|_| invalid())?;
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

/// `url` with its password or token replaced by `***`; the user name stays, it helps.
/// Works on any text, valid URL or not, so that an error can quote what was refused:
/// everything before the last `@` of the part after the scheme is credentials.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    match userinfo.split_once(':') {
        Some((user, _)) if !user.contains('/') => format!("{scheme}{user}:***@{host}"),
        _ => format!("{scheme}***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_user_and_hides_the_rest() {
        let cases = [
            (
                "nats://alice:s3cret@host:4222",
                "nats://alice:***@host:4222",
            ),
            ("nats://t0ken@host:4222", "nats://***@host:4222"),
            ("alice:s3cret@host:4222", "alice:***@host:4222"),
            ("nats://alice:p@ss@host", "nats://alice:***@host"),
            ("nats://alice:pa/ss@host", "nats://alice:***@host"),
            ("nats://pa/ss@host", "nats://***@host"),
            ("nats://host:4222", "nats://host:4222"),
            ("tls://:s3cret@host", "tls://:***@host"),
            ("", ""),
            ("@", "***@"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn credentials_are_taken_out_and_decoded() {
        let url = ServerUrl::parse("nats://alice:p%40ss%3Aw0rd@broker.example.net:4222").unwrap();
        assert_eq!(url.to_string(), "nats://alice:***@broker.example.net:4222");
        assert_eq!(
            format!("{url:?}"),
            "\"nats://alice:***@broker.example.net:4222\""
        );
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
        for (bad, shown) in [
            ("nats://alice:s3cret@", "nats://alice:***@"),
            ("nats://alice:s3cret@a b", "nats://alice:***@a b"),
            ("http://alice:s3cret@host", "http://alice:***@host"),
            (
                "nats://alice:s3cret@host:99999",
                "nats://alice:***@host:99999",
            ),
            ("nats://alice:%ff@host", "nats://alice:***@host"),
        ] {
            let err = ServerUrl::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid NATS server URL '{shown}'")
            );
            assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
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
            "the NATS server URLs nats://a:***@one:4222, nats://a:***@two:4222 hold different \
             credentials; one connection authenticates the same way with every server"
        );
        assert!(matches!(shared_credentials(&[parse("one:4222")]), Ok(None)));
    }
}
