//! Waiting for a condition, never for a fixed time: each wait has a deadline generous
//! enough for a loaded machine, and fails with what it waited for.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for anything before it fails.
pub const LIMIT: Duration = Duration::from_secs(120);

/// `future`'s output; fails the test instead of hanging when it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Polls `done` every 20 ms until it holds, failing after [`LIMIT`].
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "not within {LIMIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`wait_until`] for a test that is not async: polls every 20 ms, blocking the thread.
pub fn wait_until_blocking(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "not within {LIMIT:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
