//! Serving an axum [`Router`](axum::Router) with the limits a server facing hostile clients
//! needs.
//!
//! `axum::serve` keeps a connection open for as long as its client likes: one that opens a
//! connection and never finishes its request head holds it forever, and a thousand of them
//! hold a thousand. [`serve`] closes such connections, bounds how many are served at once,
//! bounds how long a handler may take, and shuts down gracefully:
//!
//! - [`Limits::header_read_timeout`]: a client has this long to send a request head, on a new
//!   connection or an idle kept-alive one (hyper's HTTP/1 header-read timeout);
//! - [`Limits::request_timeout`]: a handler has this long to produce its response, else the
//!   client gets 503 (tower-http's timeout; a streamed body, such as Server-Sent Events, is
//!   not bounded by it);
//! - [`Limits::max_connections`]: connections served at once; more wait in the listener's
//!   accept queue until one closes;
//! - [`Limits::shutdown_grace`]: once shutdown is asked, how long requests under way have to
//!   finish before their connections are closed.
//!
//! [`metrics_response`] and [`metrics_router`] serve a Prometheus registry, in OpenMetrics or
//! Prometheus text as the scraper asks.; [`serve_metrics`]
//! binds an address and serves one in the background, as `forward` and `react` do.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use lifecycle_http::{Limits, serve};
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let router = Router::new().route("/healthz", get(|| async { "ok\n" }));
//! // Serves until the process ends; give a future that completes to shut down.
//! serve(listener, router, Limits::default(), std::future::pending()).await
//! # }
//! ```

mod limits;
mod metrics;
mod serve;

pub use limits::Limits;
pub use metrics::{metrics_response, metrics_router, prometheus_text, serve_metrics};
pub use serve::serve;
