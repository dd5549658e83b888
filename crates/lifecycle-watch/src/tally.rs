//! A client of a running tally's `/api/v1/nodes`: the nodes a filter selects, every page.
//!
//! The tally answers `GET /api/v1/nodes?filter=EXPR&state=up|lost|all&limit=N&cursor=C` with
//! `{"nodes": [{"identity", "component", "version", "last_seen", "state"}], "next_cursor":
//! "..." | null}`, the filter language evaluated on each node as
//! [`Event::node_state`](lifecycle_core::Event::node_state) writes it. A bad filter is a 400
//! whose body says what is wrong; while it replays, a 503.
//!
//! Bounded: each answer is read up to [`MAX_PAGE_BYTES`], each request within
//! [`REQUEST_TIMEOUT`], the listing up to a number of nodes. Errors name the URL as
//! [`lifecycle_secret::redact`] shows it, or say what is wrong with one that is refused.

use std::time::Duration;

use lifecycle_core::selection::StateSelection;
use lifecycle_secret::{Url, check_url, redact};
use lifecycle_tally_api::{Cursor, NODES_PATH, Node, NodePage};
use reqwest::StatusCode;

use crate::error::{Error, ErrorKind};

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Longest a request may take, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Most bytes read of one answer: a page of 5,000 nodes is about a megabyte.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// Nodes asked for in a page.
const PAGE_SIZE: &str = "5000";

/// Most of a tally's error message kept.
const MAX_MESSAGE: usize = 512;

/// Most nodes listed unless told otherwise.
pub const DEFAULT_MAX_NODES: usize = 2_000_000;

/// A client of one tally's HTTP API.
///
/// ```no_run
/// use lifecycle_core::selection::StateSelection;
/// use lifecycle_watch::TallyClient;
///
/// # async fn run() -> Result<(), lifecycle_watch::Error> {
/// let tally = TallyClient::new("http://tally.example.net:9090")?;
/// let behind = tally
///     .nodes("component=server,.version<0.30.0", StateSelection::Up)
///     .await?;
/// println!("{} servers still to upgrade", behind.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TallyClient {
    http: reqwest::Client,
    /// `/api/v1/nodes` under the URL given, credentials in it.
    endpoint: Url,
    /// The same, credentials redacted.
    shown: String,
    max_nodes: usize,
}

impl TallyClient {
    /// A client of the tally serving at `url` (`http://host:port`, or under a path); a user
    /// and password in it are sent as basic authentication.
    pub fn new(url: &str) -> Result<TallyClient, Error> {
        let invalid = |e: Source| Error::with_source(ErrorKind::InvalidTallyUrl, e);
        let mut base = check_url(url, &["http", "https"]).map_err(|e| invalid(e.into()))?;
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let endpoint = base.join(NODES_PATH).map_err(|e| invalid(e.into()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect could carry the credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(e.without_url().into()))?;
        Ok(TallyClient {
            http,
            shown: redact(&endpoint),
            endpoint,
            max_nodes: DEFAULT_MAX_NODES,
        })
    }

    /// Lists at most `max` nodes; more is an error.
    pub fn max_nodes(mut self, max: usize) -> TallyClient {
        self.max_nodes = max;
        self
    }

    /// `/api/v1/nodes` at this tally, credentials redacted.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Every node `filter` (the filter language; empty for all) selects in `state`, page by
    /// page.
    pub async fn nodes(&self, filter: &str, state: StateSelection) -> Result<Vec<Node>, Error> {
        let mut nodes = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = self.page(filter, state, cursor).await?;
            if nodes.len() + page.nodes.len() > self.max_nodes {
                return Err(Error::new(ErrorKind::TallyTooManyNodes {
                    url: self.shown.clone(),
                    limit: self.max_nodes,
                }));
            }
            let empty = page.nodes.is_empty();
            nodes.extend(page.nodes);
            match page.next_cursor {
                None => return Ok(nodes),
                // Pages are full but the last: an empty one that goes on, or the same
                // cursor again, would go on for ever.
                Some(next) if empty || cursor == Some(next) => {
                    return Err(
                        self.malformed("a page that does not move on to the next one".into())
                    );
                }
                Some(next) => cursor = Some(next),
            }
        }
    }

    async fn page(
        &self,
        filter: &str,
        state: StateSelection,
        cursor: Option<Cursor>,
    ) -> Result<NodePage, Error> {
        let mut query = vec![("state", state.as_str()), ("limit", PAGE_SIZE)];
        if !filter.is_empty() {
            query.push(("filter", filter));
        }
        let cursor = cursor.map(|c| c.to_string());
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let unreachable = |e: reqwest::Error| {
            Error::with_source(
                ErrorKind::TallyUnreachable {
                    url: self.shown.clone(),
                },
                e.without_url(),
            )
        };
        let mut response = self
            .http
            .get(self.endpoint.clone())
            .query(&query)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(Error::new(ErrorKind::TallyTooLarge {
                    url: self.shown.clone(),
                    limit: MAX_PAGE_BYTES,
                }));
            }
            body.extend_from_slice(&chunk);
        }
        let url = self.shown.clone();
        match status {
            StatusCode::OK => serde_json::from_slice(&body).map_err(|e| self.malformed(e.into())),
            StatusCode::BAD_REQUEST => Err(Error::new(ErrorKind::TallyRefused {
                url,
                message: message(&body),
            })),
            StatusCode::SERVICE_UNAVAILABLE => Err(Error::new(ErrorKind::TallyNotReady {
                url,
                message: message(&body),
            })),
            status => Err(Error::new(ErrorKind::TallyStatus {
                url,
                status: status.as_u16(),
                message: message(&body),
            })),
        }
    }

    /// The answer is not a page of nodes: `why` says what is wrong with it.
    fn malformed(&self, why: Source) -> Error {
        Error::with_source(
            ErrorKind::TallyMalformed {
                url: self.shown.clone(),
            },
            why,
        )
    }
}

/// The start of a body, as one trimmed line.
fn message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut message: String = text.chars().take(MAX_MESSAGE).collect();
    if message.len() < text.len() {
        message.push_str("...");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle_core::NodeState;

    #[test]
    fn urls_are_checked_and_shown_redacted() {
        let client = TallyClient::new("http://alice:s3cret@tally.example.net:9090").unwrap();
        assert_eq!(
            client.url(),
            "http://***@tally.example.net:9090/api/v1/nodes"
        );
        let client = TallyClient::new("https://t0ken@tally.example.net/fleet?x=1").unwrap();
        assert_eq!(
            client.url(),
            "https://***@tally.example.net/fleet/api/v1/nodes"
        );
        let client = TallyClient::new("http://127.0.0.1:9090/").unwrap();
        assert_eq!(client.url(), "http://127.0.0.1:9090/api/v1/nodes");
        for (url, error) in [
            (
                "nats://alice:s3cret@host:4222",
                "invalid tally URL: unknown scheme 'nats' (expected http:// or https://)",
            ),
            (
                "tally.example.net:9090",
                "invalid tally URL: no scheme (expected http:// or https://)",
            ),
            (
                "http//alice:s3cret@host",
                "invalid tally URL: no scheme (expected http:// or https://)",
            ),
            (
                "http://alice:s3cret@host:999999/?token=abc",
                "invalid tally URL: invalid port number",
            ),
        ] {
            let got = TallyClient::new(url).unwrap_err();
            assert_eq!(got.kind(), &ErrorKind::InvalidTallyUrl);
            assert_eq!(got.to_string(), "invalid tally URL");
            let cause = std::error::Error::source(&got).expect("the cause is kept");
            assert_eq!(format!("{got}: {cause}"), error);
        }
    }

    #[test]
    fn pages_read_with_or_without_a_state() {
        let page: NodePage = serde_json::from_str(
            r#"{"nodes":[{"identity":"n1","component":"server","version":"0.30.0","last_seen":1700000000},
                {"identity":"n2","component":"server","version":"0.29.4","last_seen":1700000001,"state":"lost","more":1}],
                "next_cursor":"42"}"#,
        )
        .unwrap();
        assert_eq!(page.nodes[0].state, NodeState::Up);
        assert_eq!(page.nodes[1].state, NodeState::Lost);
        assert_eq!(
            page.next_cursor.map(|c| c.to_string()).as_deref(),
            Some("42")
        );
    }

    #[test]
    fn messages_are_one_trimmed_bounded_line() {
        assert_eq!(
            message(b"  bad filter at position 3\n"),
            "bad filter at position 3"
        );
        let long = vec![b'x'; 2000];
        assert_eq!(message(&long).len(), MAX_MESSAGE + 3);
    }
}
