//! POSTing events to a CloudEvents receiver, one attempt at a time; retries, order and
//! acknowledgements belong to the caller (`lifecycle-deliver`'s engine).

use std::time::Duration;

use lifecycle_core::AnyEvent;

use crate::convert::to_cloudevent;
use crate::error::{Error, ErrorKind};
use crate::failure::Failure;
use crate::http::{Mode, encode};

/// How long a [`Forwarder`] waits for the receiver to answer one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends events to one CloudEvents receiver over HTTP. Cloning shares its connections.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    url: reqwest::Url,
    mode: Mode,
}

impl Forwarder {
    /// A forwarder POSTing to `url` in `mode`, waiting [`REQUEST_TIMEOUT`] per request.
    pub fn new(url: &str, mode: Mode) -> Result<Forwarder, Error> {
        Forwarder::with_timeout(url, mode, REQUEST_TIMEOUT)
    }

    /// A forwarder POSTing to `url` in `mode`, waiting `timeout` per request.
    pub fn with_timeout(url: &str, mode: Mode, timeout: Duration) -> Result<Forwarder, Error> {
        let parsed = lifecycle_secret::check_url(url, &["http", "https"])
            .map_err(|e| Error::with_source(ErrorKind::InvalidUrl, e))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Http, e))?;
        Ok(Forwarder {
            client,
            url: parsed,
            mode,
        })
    }

    /// The content mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The receiver, secrets and all: for the request only, never for an output.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The receiver as every output shows it ([`lifecycle_secret::redact`]: user, password,
    /// query values and fragment replaced by `***`): for logs and headers.
    pub fn receiver(&self) -> String {
        lifecycle_secret::redact(&self.url)
    }

    /// One attempt: `Ok` when the receiver answered 2xx.
    pub async fn send(&self, event: &AnyEvent) -> Result<(), Error> {
        self.send_cloudevent(to_cloudevent(event)?).await
    }

    /// One attempt with an event already converted.
    pub async fn send_cloudevent(&self, event: cloudevents::Event) -> Result<(), Error> {
        self.attempt(event).await.map_err(Failure::into_error)
    }

    /// One attempt, its failure sorted into transient or permanent.
    pub async fn attempt(&self, event: cloudevents::Event) -> Result<(), Failure> {
        // Built here, not when sent: a header the event cannot fill is then this event's
        // fault (permanent), not the exchange's.
        // reqwest's errors quote the URL, secrets and all: the receiver is known anyway.
        let request = encode(event, self.mode, self.client.post(self.url.clone()))?
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Unencodable(self.mode), e.without_url()))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| Error::with_source(ErrorKind::Http, e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Status(status.as_u16())).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Chain;

    #[test]
    fn urls_must_be_http() {
        assert!(Forwarder::new("http://127.0.0.1:8080/events", Mode::Binary).is_ok());
        let error = Forwarder::new("nats://x", Mode::Binary).unwrap_err();
        assert_eq!(error.to_string(), "invalid receiver URL");
        assert_eq!(
            Chain(&error).to_string(),
            "invalid receiver URL: unknown scheme 'nats' (expected http:// or https://)"
        );
        assert!(Forwarder::new("not a url", Mode::Binary).is_err());
        for (url, reason) in [
            ("http://h:999999/", "invalid port number"),
            ("http://[::1", "invalid IPv6 address"),
            (
                "htps://user:pass@h/",
                "unknown scheme 'htps' (expected http:// or https://)",
            ),
            (
                "https://user:pass@h:0x/hook?token=abc#frag",
                "invalid port number",
            ),
        ] {
            let error = Forwarder::new(url, Mode::Binary).unwrap_err();
            let shown = format!("{} {error:?}", Chain(&error));
            assert_eq!(
                Chain(&error).to_string(),
                format!("invalid receiver URL: {reason}")
            );
            for secret in ["pass", "abc", "frag"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }

    #[test]
    fn the_receiver_is_shown_without_its_secrets() {
        let forwarder = Forwarder::new(
            "https://alice:s3cret@gw.example.net/hook?key=s3cret",
            Mode::Binary,
        )
        .unwrap();
        assert_eq!(
            forwarder.receiver(),
            "https://***@gw.example.net/hook?key=***"
        );
        let token = Forwarder::new("https://TOKEN@gw.example.net/hook", Mode::Binary).unwrap();
        assert_eq!(token.receiver(), "https://***@gw.example.net/hook");
        let plain = Forwarder::new("http://127.0.0.1:8080/", Mode::Binary).unwrap();
        assert_eq!(plain.receiver(), "http://127.0.0.1:8080/");
    }

    fn alive(identity: &str) -> AnyEvent {
        lifecycle_core::Event::builder(lifecycle_core::EventType::Alive)
            .identity(identity)
            .component("server")
            .version("0.29.4")
            .build()
            .unwrap()
            .into()
    }

    /// An identity with a newline, which no `ce-subject` header can carry. The builder
    /// refuses to make one: it is written as JSON, as an attacker would publish it.
    fn poison() -> AnyEvent {
        let json = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"bad\nnode","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;
        lifecycle_core::parse(json.as_bytes()).unwrap().into_event()
    }

    #[tokio::test]
    async fn a_failure_never_quotes_the_receiver_url() {
        // Nothing listens there.
        let forwarder =
            Forwarder::new("http://alice:s3cret@127.0.0.1:9/?key=s3cret", Mode::Binary).unwrap();
        for (event, transient) in [(poison(), false), (alive("node1.example.net"), true)] {
            let failure = forwarder
                .attempt(to_cloudevent(&event).unwrap())
                .await
                .unwrap_err();
            assert_eq!(failure.is_transient(), transient, "{failure}");
            assert!(
                !format!("{failure} {failure:?}").contains("s3cret"),
                "{failure:?}"
            );
        }
    }
}
