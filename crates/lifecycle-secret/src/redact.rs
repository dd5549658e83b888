//! The one rule that shows a URL: in logs at every verbosity, errors, dead-letter headers,
//! metrics, dry runs and status pages alike.
//!
//! A URL's user may be a token (`https://TOKEN@host/hook` is sent as basic authentication,
//! `nats://TOKEN@host` is a NATS token), its password is one, and webhooks keep their keys
//! in the query or the fragment: all of them become `***`. Scheme, host, port and path stay,
//! they say where. A text that does not parse as a URL is never echoed, not even in part:
//! where its secret ends cannot be told; the error says what is wrong instead.

use std::fmt::Write as _;

use url::Url;

use crate::error::{Error, ErrorKind};

/// `url` as every output shows it: `https://***@host:8443/hook?key=***#***`.
pub fn redact(url: &Url) -> String {
    let mut shown = String::from(url.scheme());
    if url.cannot_be_a_base() {
        // `scheme:anything`: no authority, nothing to tell a secret from the rest by.
        shown.push_str(":***");
        return shown;
    }
    shown.push_str("://");
    if !url.username().is_empty() || url.password().is_some() {
        shown.push_str("***@");
    }
    if let Some(host) = url.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = url.port() {
        let _ = write!(shown, ":{port}");
    }
    shown.push_str(url.path());
    if let Some(query) = url.query() {
        shown.push('?');
        let pairs = query.split('&').map(|pair| match pair.split_once('=') {
            Some((key, _)) => format!("{key}=***"),
            None if pair.is_empty() => String::new(),
            None => "***".to_owned(),
        });
        shown.push_str(&pairs.collect::<Vec<_>>().join("&"));
    }
    if url.fragment().is_some() {
        shown.push_str("#***");
    }
    shown
}

/// `text`, which may or may not be a URL, as every output shows it: redacted as [`redact`]
/// does when it parses as `scheme://...`, else only what is wrong with it, in parentheses:
/// `(invalid URL: invalid port number)`.
pub fn redact_str(text: &str) -> String {
    match parse(text) {
        Ok(url) => redact(&url),
        Err(kind) => format!("(invalid URL: {})", Error::url(kind, &[])),
    }
}

/// `text` as a URL with one of `schemes` (lower case, without `://`) and a host. The error
/// says what is wrong without quoting the text.
pub fn check_url(text: &str, schemes: &'static [&'static str]) -> Result<Url, Error> {
    let error = |kind| Error::url(kind, schemes);
    let url = parse(text).map_err(error)?;
    if !schemes.contains(&url.scheme()) {
        return Err(error(ErrorKind::UnknownScheme(url.scheme().to_owned())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(error(ErrorKind::NoHost));
    }
    Ok(url)
}

/// `scheme://...` parsed; only then is the scheme known not to be a user name
/// (`alice:s3cret@host` parses as the scheme `alice`).
fn parse(text: &str) -> Result<Url, ErrorKind> {
    // The url crate drops tabs and newlines silently: a token would change without a word.
    if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ErrorKind::Whitespace);
    }
    let scheme = text.split_once("://").map(|(scheme, _)| scheme);
    let valid = scheme.is_some_and(|scheme| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if !valid {
        return Err(ErrorKind::NoScheme);
    }
    // url's errors name the problem, never the text.
    Url::parse(text).map_err(ErrorKind::Syntax)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: &[&str] = &["http", "https"];

    /// The secrets the URLs of these tests hold; none may ever show.
    const SECRETS: [&str; 6] = ["TOKEN", "pass", "abc", "frag", "s3cret", "alice"];

    fn assert_hidden(shown: &str) {
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn valid_urls_show_where_and_hide_every_secret() {
        for (url, shown) in [
            ("https://TOKEN@host/hook", "https://***@host/hook"),
            (
                "https://user:pass@host/hook?token=abc#frag",
                "https://***@host/hook?token=***#***",
            ),
            ("https://:pass@host:8443/", "https://***@host:8443/"),
            ("http://h/?abc&x=abc&&y=", "http://h/?***&x=***&&y=***"),
            ("http://h/#", "http://h/#***"),
            ("http://[::1]:9/hook", "http://[::1]:9/hook"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
            ("http://alice:p@ss@host/", "http://***@host/"),
            ("nats://alice:s3cret@host:4222", "nats://***@host:4222"),
            ("nats://TOKEN@host:4222", "nats://***@host:4222"),
            ("nats://host:4222", "nats://host:4222"),
            ("tls://:s3cret@host", "tls://***@host"),
            ("htps://user:pass@h/", "htps://***@h/"),
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(redact(&parsed), shown, "{url}");
            assert_eq!(redact_str(url), shown, "{url}");
            assert_hidden(&redact(&parsed));
        }
        assert_eq!(
            redact(&Url::parse("mailto:alice@abc").unwrap()),
            "mailto:***"
        );
    }

    #[test]
    fn invalid_urls_are_never_echoed() {
        for (url, shown) in [
            ("http://h:999999/", "(invalid URL: invalid port number)"),
            (
                "http://alice:pass@h:999999/?abc",
                "(invalid URL: invalid port number)",
            ),
            ("http://[::1", "(invalid URL: invalid IPv6 address)"),
            ("http://TOKEN@[::1", "(invalid URL: invalid IPv6 address)"),
            ("alice:s3cret@host:4222", "(invalid URL: no scheme)"),
            ("TOKEN@host", "(invalid URL: no scheme)"),
            ("user:pass@h://x", "(invalid URL: no scheme)"),
            ("http://alice:s3cret@", "(invalid URL: empty host)"),
            ("", "(invalid URL: no scheme)"),
            (
                "http://alice:pa ss@h/",
                "(invalid URL: white space or a control character in it)",
            ),
            (
                "http://TO\nKEN@h/",
                "(invalid URL: white space or a control character in it)",
            ),
        ] {
            assert_eq!(redact_str(url), shown, "{url}");
        }
    }

    #[test]
    fn check_url_says_what_is_wrong_without_the_text() {
        for (url, error) in [
            (
                "htps://user:pass@h/",
                "unknown scheme 'htps' (expected http:// or https://)",
            ),
            ("http://h:999999/", "invalid port number"),
            (
                "http://user:pass@h:999999/?token=abc#frag",
                "invalid port number",
            ),
            ("http://[::1", "invalid IPv6 address"),
            ("https://TOKEN@", "empty host"),
            (
                "TOKEN@host/hook",
                "no scheme (expected http:// or https://)",
            ),
            ("user:pass@host", "no scheme (expected http:// or https://)"),
            (
                "nats://TOKEN@host",
                "unknown scheme 'nats' (expected http:// or https://)",
            ),
        ] {
            let refused = check_url(url, HTTP).unwrap_err();
            assert_eq!(refused.to_string(), error, "{url}");
            assert_hidden(&format!("{refused} {refused:?}"));
        }
        let nats = check_url("foo://h", &["nats", "tls", "ws", "wss"]).unwrap_err();
        assert_eq!(
            nats.to_string(),
            "unknown scheme 'foo' (expected nats://, tls://, ws:// or wss://)"
        );
        assert_eq!(
            check_url("x://h", &["nats"]).unwrap_err().to_string(),
            "unknown scheme 'x' (expected nats://)"
        );
        assert_eq!(
            check_url("nats:///x", &["nats"]).unwrap_err().kind(),
            &ErrorKind::NoHost
        );
        let url = check_url("https://TOKEN@host/hook", HTTP).unwrap();
        assert_eq!(url.username(), "TOKEN");
    }
}
