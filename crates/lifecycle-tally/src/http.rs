//! The tally's HTTP interface: `/metrics`, `/healthz` and a JSON API.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::tally::Tally;

#[derive(Clone)]
struct App {
    tally: Tally,
    registry: Arc<Registry>,
}

/// The routes, ready to serve: `/metrics`, `/healthz`, `/api/v1/components`,
/// `/api/v1/nodes?component=&version=`.
pub fn router(tally: Tally, prefix: &str) -> Router {
    let registry = Arc::new(tally.metrics().register(prefix));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/api/v1/components", get(components))
        .route("/api/v1/nodes", get(nodes))
        .with_state(App { tally, registry })
}

/// Until a warm start has caught up, the counts are partial: say so rather than serve them.
fn warming_up() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "warming up: replaying recent events from JetStream\n",
    )
        .into_response()
}

/// OpenMetrics to scrapers that ask for it (Prometheus does), the classic Prometheus text
/// format to everyone else (promtool, curl, older scrapers).
async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if !app.tally.is_ready() {
        return warming_up();
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &app.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if openmetrics {
        let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(header::CONTENT_TYPE, content_type)], text).into_response()
    } else {
        let content_type = "text/plain; version=0.0.4; charset=utf-8";
        (
            [(header::CONTENT_TYPE, content_type)],
            prometheus_text(&text),
        )
            .into_response()
    }
}

/// OpenMetrics text as the Prometheus text format: a counter's HELP and TYPE name its
/// `_total` series, and there is no `# EOF`.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let comment = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match comment {
            Some((kind, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(kind);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// One component in `/api/v1/components`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentCount {
    /// The component.
    pub component: String,
    /// Its nodes.
    pub nodes: u64,
    /// Its nodes per version.
    pub versions: std::collections::BTreeMap<String, u64>,
}

async fn healthz(State(app): State<App>) -> Response {
    if app.tally.is_ready() {
        "ok\n".into_response()
    } else {
        warming_up()
    }
}

async fn components(State(app): State<App>) -> Response {
    if !app.tally.is_ready() {
        return warming_up();
    }
    let fleet = app.tally.fleet();
    let mut out: Vec<ComponentCount> = fleet
        .components()
        .map(|(component, versions)| ComponentCount {
            component: component.to_owned(),
            nodes: versions.iter().map(|(_, n)| n).sum(),
            versions: versions
                .into_iter()
                .map(|(v, n)| (v.to_owned(), n))
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.component.cmp(&b.component));
    Json(out).into_response()
}

#[derive(Debug, Deserialize)]
struct NodeQuery {
    component: Option<String>,
    version: Option<String>,
}

/// One node in `/api/v1/nodes`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its identity.
    pub identity: String,
    /// Its component.
    pub component: String,
    /// The version it runs.
    pub version: String,
    /// When it was last seen, unix seconds.
    pub last_seen: i64,
}

async fn nodes(State(app): State<App>, Query(query): Query<NodeQuery>) -> Response {
    if !app.tally.is_ready() {
        return warming_up();
    }
    let fleet = app.tally.fleet();
    let nodes: Vec<NodeInfo> = fleet
        .nodes(query.component.as_deref(), query.version.as_deref())
        .map(|n| NodeInfo {
            identity: n.identity.to_owned(),
            component: n.component.to_owned(),
            version: n.version.to_owned(),
            last_seen: n.last_seen,
        })
        .collect();
    Json(nodes).into_response()
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests
/// under way.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
