//! Prometheus metrics over HTTP: a registry in OpenMetrics text to scrapers that ask for it
//! (Prometheus does), in the classic Prometheus text format to everyone else (promtool, curl,
//! older scrapers).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

/// `registry` as the answer to a scrape with these request headers.
pub fn metrics_response(registry: &Registry, headers: &HeaderMap) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
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

/// A router serving `registry` at `/metrics` and `ok` at `/healthz`: what a process that only
/// exports metrics (a forwarder, a reactor) serves.
pub fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |State(registry): State<Arc<Registry>>, headers: HeaderMap| async move {
                    metrics_response(&registry, &headers)
                },
            ),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(registry)
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

/// Serves `registry` at `addr`/metrics with [`Limits::default`](crate::Limits), in the
/// background until the process ends; returns the address it listens on. A server that
/// stops on an error says so in a warning.
pub async fn serve_metrics(addr: SocketAddr, registry: Registry) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving metrics");
    let router = metrics_router(Arc::new(registry));
    tokio::spawn(async move {
        let limits = crate::Limits::default();
        if let Err(error) = crate::serve(listener, router, limits, std::future::pending()).await {
            tracing::warn!(%error, "the metrics server stopped");
        }
    });
    Ok(addr)
}
