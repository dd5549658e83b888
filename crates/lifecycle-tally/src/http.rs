//! The tally's HTTP interface: `/metrics`, `/healthz`, `/readyz`, a JSON API, the live event
//! feed (Server-Sent Events) and the dashboard.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use lifecycle_core::Filter;
use lifecycle_http::Limits;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};

use crate::error::ErrorKind;
use crate::feed::{FeedEvent, FeedSubscription};
use crate::fleet::StateSelection;
use crate::page::NodeQuery;
use crate::tally::Tally;
use lifecycle_tally_api::{Cursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Clients the live feed serves at once; one more is answered 503.
pub const MAX_FEED_CLIENTS: usize = 256;

/// How often an idle feed sends a keep-alive comment.
const FEED_KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Clone)]
struct App {
    tally: Tally,
    registry: Arc<Registry>,
    feed_clients: Arc<Semaphore>,
}

/// The routes, ready to serve:
///
/// - `/metrics`: Prometheus or OpenMetrics text;
/// - `/healthz`: liveness, `ok` while the process serves;
/// - `/readyz`: readiness, `ready` once connected to the broker and caught up with it, else
///   503 with the reason ([`Readiness`](crate::Readiness)): the broker unreachable (which
///   servers, why), a warm start in progress (replaying N of M events);
/// - `/api/v1/status`: JSON ([`Status`]), what the dashboard's header shows: leader,
///   connected, ready and why not, events refused, nodes expired and lost;
/// - `/api/v1/components`: JSON, per component its node count and nodes per version, the
///   biggest component first;
/// - `/api/v1/nodes?component=&version=&state=&filter=&limit=&cursor=`: JSON, a page of the
///   nodes (`{"nodes": [...], "next_cursor": "..."}`), each with its identity, component,
///   version, `last_seen` (unix seconds) and `state`. `state` is `up` (the default), `lost`
///   or `all`; `filter` is the filter language over each node's state
///   ([`node_event`](crate::node_event): `component=server,.version<0.30.0`,
///   `.last_seen<1700000000`). At most `limit` nodes (default [`DEFAULT_PAGE_SIZE`], at most
///   [`MAX_PAGE_SIZE`]), from the page's `cursor` (the previous page's `next_cursor`; none
///   for the first). `next_cursor` is null after the last page. A bad `limit`, `cursor` or
///   `state` is answered 400 saying which, a malformed filter 400 with the error and its
///   position;
/// - `/api/v1/events?filter=EXPR`: the live feed as Server-Sent Events. Each counted event
///   that passes the filter (empty: all) is one message with `id:` the event id and `data:`
///   its Choria JSON; a `: ready` comment first says the feed is subscribed; a client that
///   fell behind by more than its budget ([`TallyOptions::feed_budget`](crate::TallyOptions::feed_budget))
///   gets an `event: lagged` message whose data is how many it missed; a keep-alive comment
///   every 15 s. A malformed filter is answered 400 with the error and its position, more
///   than [`MAX_FEED_CLIENTS`] clients 503. Served while warming up too;
/// - `/` and `/assets/...`: the dashboard, counts and live feed in a browser.
///
/// The routes that give counts (`/metrics`, `/api/v1/components`, `/api/v1/nodes`) answer
/// 503 until the counts have been current once ([`Tally::is_warm`]), with the reason; after
/// that they are served whatever the broker does, the `connected` gauge saying whether it is
/// there.
pub fn router(tally: Tally, prefix: &str) -> Router {
    let registry = Arc::new(tally.metrics().register(prefix));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/components", get(components))
        .route("/api/v1/nodes", get(nodes))
        .route("/api/v1/events", get(events))
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .with_state(App {
            tally,
            registry,
            feed_clients: Arc::new(Semaphore::new(MAX_FEED_CLIENTS)),
        })
}

/// Until the counts have been current once, they are partial: say why rather than serve
/// them.
fn warming_up(tally: &Tally) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("warming up: {}\n", tally.readiness()),
    )
        .into_response()
}

/// OpenMetrics to scrapers that ask for it (Prometheus does), the classic Prometheus text
/// format to everyone else (promtool, curl, older scrapers).
async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if !app.tally.is_warm() {
        return warming_up(&app.tally);
    }
    lifecycle_http::metrics_response(&app.registry, &headers)
}

async fn healthz() -> Response {
    "ok\n".into_response()
}

async fn readyz(State(app): State<App>) -> Response {
    match app.tally.readiness() {
        crate::Readiness::Ready => "ready\n".into_response(),
        reason => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

async fn status(State(app): State<App>) -> Response {
    Json(app.tally.status()).into_response()
}

async fn components(State(app): State<App>) -> Response {
    if !app.tally.is_warm() {
        return warming_up(&app.tally);
    }
    Json(app.tally.component_counts()).into_response()
}

/// `/api/v1/nodes`' query, as sent: checked by [`NodesParams::query`].
#[derive(Debug, Deserialize)]
struct NodesParams {
    component: Option<String>,
    version: Option<String>,
    state: Option<String>,
    filter: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl NodesParams {
    fn query(self) -> Result<NodeQuery, String> {
        let limit = match self.limit.as_deref() {
            None => DEFAULT_PAGE_SIZE,
            Some(limit) => limit
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    let shown: String = limit.chars().take(64).collect();
                    format!("invalid limit {shown:?}: a whole number from 1 to {MAX_PAGE_SIZE}")
                })?,
        };
        let cursor = match self.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(cursor.parse::<Cursor>().map_err(|e| e.to_string())?),
        };
        let state = match self.state.as_deref() {
            None => StateSelection::default(),
            Some(state) => state.parse().map_err(|e| format!("{e}"))?,
        };
        let filter = Filter::parse(self.filter.as_deref().unwrap_or_default())
            .map_err(|e| format!("invalid filter: {e}"))?;
        Ok(NodeQuery {
            component: self.component,
            version: self.version,
            state,
            filter,
            cursor,
            limit,
        })
    }
}

async fn nodes(
    State(app): State<App>,
    params: Result<Query<NodesParams>, QueryRejection>,
) -> Response {
    let query = match params {
        Ok(Query(params)) => params.query(),
        Err(rejection) => Err(rejection.body_text()),
    };
    let query = match query {
        Ok(query) => query,
        Err(message) => return (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response(),
    };
    if !app.tally.is_warm() {
        return warming_up(&app.tally);
    }
    Json(app.tally.nodes_page(&query)).into_response()
}

/// Turns true when [`serve`] is shutting down, so endless responses (the feed) end too.
#[derive(Clone)]
struct Closing(watch::Receiver<bool>);

/// Serves `router` on `listener` within `limits` ([`lifecycle_http::serve`]: header-read
/// and request timeouts, a connection cap) until `shutdown` completes, then finishes the
/// requests under way; live feeds end at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (closing, closed) = watch::channel(false);
    let router = router.layer(Extension(Closing(closed)));
    lifecycle_http::serve(listener, router, limits, async move {
        shutdown.await;
        let _ = closing.send(true);
    })
    .await
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    filter: Option<String>,
}

/// What a feed client's stream holds.
struct FeedClient {
    subscription: FeedSubscription,
    filter: Filter,
    ready_sent: bool,
    /// Its place among [`MAX_FEED_CLIENTS`], given back when the client leaves.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

async fn events(
    State(app): State<App>,
    closing: Option<Extension<Closing>>,
    Query(query): Query<EventsQuery>,
) -> Response {
    let filter = match Filter::parse(query.filter.as_deref().unwrap_or_default()) {
        Ok(filter) => filter,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("invalid filter: {e}\n")).into_response();
        }
    };
    let Ok(permit) = app.feed_clients.clone().try_acquire_owned() else {
        let busy = format!("too many feed clients: at most {MAX_FEED_CLIENTS}\n");
        return (StatusCode::SERVICE_UNAVAILABLE, busy).into_response();
    };
    let client = FeedClient {
        subscription: app.tally.subscribe_feed(),
        filter,
        ready_sent: false,
        _permit: permit,
    };
    let messages = futures_util::stream::unfold(client, |mut client| async move {
        if !client.ready_sent {
            client.ready_sent = true;
            return Some((sse::Event::default().comment("ready"), client));
        }
        loop {
            match client.subscription.recv().await {
                Ok(event) if client.filter.matches(event.event()) => {
                    return Some((feed_message(&event), client));
                }
                Ok(_) => {}
                Err(error) => match error.kind() {
                    ErrorKind::FeedLagged(missed) => {
                        let lagged = sse::Event::default()
                            .event("lagged")
                            .data(missed.to_string());
                        return Some((lagged, client));
                    }
                    _ => return None,
                },
            }
        }
    });
    let closed = async move {
        match closing {
            Some(Extension(Closing(mut closing))) => {
                let _ = closing.wait_for(|&closing| closing).await;
            }
            None => std::future::pending().await,
        }
    };
    let messages = messages.take_until(closed).map(Ok::<_, Infallible>);
    (
        // Proxies such as nginx would otherwise hold the feed back.
        [("x-accel-buffering", "no")],
        Sse::new(messages).keep_alive(KeepAlive::new().interval(FEED_KEEP_ALIVE)),
    )
        .into_response()
}

/// One event as an SSE message: its id, and its Choria JSON on one line.
fn feed_message(event: &FeedEvent) -> sse::Event {
    let message = sse::Event::default().data(event.json());
    let id = event.event().id();
    // An id the protocol cannot carry is left out rather than break the stream.
    if id.bytes().any(|b| matches!(b, b'\n' | b'\r' | b'\0')) {
        message
    } else {
        message.id(id)
    }
}

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    static_file("text/html; charset=utf-8", INDEX_HTML)
}

async fn asset(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => static_file("text/javascript; charset=utf-8", APP_JS),
        "style.css" => static_file("text/css; charset=utf-8", STYLE_CSS),
        _ => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// Binds `listen` and serves `tally`'s [`router`] under `prefix` there with [`serve`], in a
/// task of its own until `shutdown` completes. Returns the address bound (`listen` may ask
/// for port 0) and the task, whose result is the server's.
pub async fn serve_at(
    tally: Tally,
    listen: std::net::SocketAddr,
    prefix: &str,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(
    std::net::SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let router = router(tally, prefix);
    Ok((
        address,
        tokio::spawn(serve(listener, router, limits, shutdown)),
    ))
}
