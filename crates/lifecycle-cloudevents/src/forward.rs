//! POSTing events to a CloudEvents receiver, one attempt at a time; retries, order and
//! acknowledgements belong to the caller (`lifecycle-deliver`'s engine).

use std::sync::Arc;
use std::time::Duration;

use lifecycle_core::AnyEvent;

use crate::convert::with_id;
use crate::encoded::{Encoded, by_hand};
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
    /// A POST to `url` as reqwest's builder makes it, taken once: the URL without its user
    /// and password, and those in an `Authorization` header. [`Forwarder::post`] starts each
    /// request from it, so that it goes out as the SDK's binding sends it.
    base: Arc<reqwest::Request>,
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
        // reqwest's errors quote the URL, secrets and all.
        let base = client
            .post(parsed.clone())
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Http, e.without_url()))?;
        Ok(Forwarder {
            client,
            url: parsed,
            mode,
            base: Arc::new(base),
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

    /// The request for `event`, built once for all its attempts (so that a machine event
    /// keeps one CloudEvent id). An event that cannot be a request in this mode is an
    /// [`ErrorKind::Unencodable`] error, a permanent failure.
    pub fn prepare(&self, event: &AnyEvent) -> Result<Encoded, Error> {
        let cloudevent = event.cloudevent();
        let id = cloudevent.id();
        match by_hand(event, id, self.mode) {
            Some(encoded) => Ok(encoded),
            None => {
                let request = self.sdk_request(with_id(event, id)?)?;
                Ok(Encoded::from_request(id, &request, &self.base))
            }
        }
    }

    /// One attempt: `Ok` when the receiver answered 2xx.
    pub async fn send(&self, event: &AnyEvent) -> Result<(), Error> {
        self.post(&self.prepare(event)?)
            .await
            .map_err(Failure::into_error)
    }

    /// One attempt with an event already converted.
    pub async fn send_cloudevent(&self, event: cloudevents::Event) -> Result<(), Error> {
        self.attempt(event).await.map_err(Failure::into_error)
    }

    /// One attempt of a request [`Forwarder::prepare`] built, its failure sorted into
    /// transient or permanent.
    pub async fn post(&self, request: &Encoded) -> Result<(), Failure> {
        self.execute(request.request(&self.base)).await
    }

    /// One attempt with the SDK's conversion, its failure sorted into transient or
    /// permanent.
    pub async fn attempt(&self, event: cloudevents::Event) -> Result<(), Failure> {
        self.execute(self.sdk_request(event)?).await
    }

    /// `event` through the SDK's reqwest binding.
    pub(crate) fn sdk_request(&self, event: cloudevents::Event) -> Result<reqwest::Request, Error> {
        // Built before it is sent: a header the event cannot fill is then this event's
        // fault (permanent), not the exchange's.
        // reqwest's errors quote the URL, secrets and all: the receiver is known anyway.
        encode(event, self.mode, self.client.post(self.url.clone()))?
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Unencodable(self.mode), e.without_url()))
    }

    async fn execute(&self, request: reqwest::Request) -> Result<(), Failure> {
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
    use crate::to_cloudevent;
    use lifecycle_core::ErrorChain as Chain;

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
