//! Shared by the tally's integration tests.

// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::time::Duration;

use lifecycle_tally::{Limits, Tally, router, serve};
#[allow(unused_imports)] // each test binary uses its own part
pub(crate) use lifecycle_testsupport::{connect, connect_with_events};
use tokio::sync::oneshot;

/// A tally served on a random port with the default limits, until dropped.
pub(crate) struct Served {
    /// `http://host:port`.
    pub(crate) base: String,
    _stop: oneshot::Sender<()>,
}

/// Fails the test instead of hanging when `future` takes longer than `secs`.
pub(crate) async fn within<T>(secs: u64, what: &str, future: impl Future<Output = T>) -> T {
    lifecycle_testsupport::within(Duration::from_secs(secs), what, future).await
}

/// Serves `tally` with metric names under `prefix`.
pub(crate) async fn serve_tally(tally: &Tally, prefix: &str) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        router(tally.clone(), prefix),
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    Served { base, _stop: stop }
}

/// A GET of `path`: its status and body.
pub(crate) async fn get(base: &str, path: &str) -> (u16, String) {
    let response = within(60, "an answer", reqwest::get(format!("{base}{path}")))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, within(60, "a body", response.text()).await.unwrap())
}
