//! Ctrl-C for the commands that receive events until it (`view`, `wait`, `nodes`).

use std::future::Future;
use std::pin::Pin;

use futures_util::FutureExt;

/// Exit status after Ctrl-C, as shells report a SIGINT.
pub(crate) const INTERRUPTED: u8 = 130;

/// Completes on Ctrl-C. Its handler is installed now, not when first awaited, so that a
/// Ctrl-C once "receiving events" is logged ends the command with 130, not by the signal.
/// Where no handler can be installed it never completes.
pub(crate) fn ctrl_c() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let mut signal: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    });
    let _ = (&mut signal).now_or_never();
    signal
}
