//! When a program that receives events until told otherwise should stop: SIGINT (Ctrl-C) or
//! SIGTERM (what `systemctl stop`, `kill` and a CI runner cancelling a job send).

use std::fmt;
use std::future::Future;

use tokio::sync::watch;
use tracing::info;

/// The signal that asked a program to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit status a shell reports for a process this signal ended, 128 + its number:
    /// 130 for SIGINT, 143 for SIGTERM.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// A stop asked for with SIGINT or SIGTERM. Its handlers are installed when it is made, so
/// make it before subscribing: a signal that comes once the program receives events then
/// stops it cleanly rather than killing it. Cloning shares it; every clone sees the first
/// signal.
///
/// ```no_run
/// use lifecycle_nats::Shutdown;
///
/// # async fn run() {
/// let shutdown = Shutdown::install();
/// // ... subscribe, then receive until:
/// shutdown.requested().await;
/// let code = shutdown.signal().map_or(0, |signal| signal.exit_code());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Shutdown {
    signal: watch::Receiver<Option<Signal>>,
}

impl Shutdown {
    /// Catches SIGINT and SIGTERM from now on (Ctrl-C where there are no Unix signals), and
    /// logs "stopping" at info with the signal when one comes. Where a handler cannot be
    /// installed, no stop is ever asked for. Call it within a tokio runtime with its I/O
    /// driver enabled: it panics elsewhere.
    pub fn install() -> Shutdown {
        let (sender, signal) = watch::channel(None);
        let first = first_signal();
        tokio::spawn(async move {
            if let Some(signal) = first.await {
                info!(%signal, "stopping");
                let _ = sender.send(Some(signal));
            }
        });
        Shutdown { signal }
    }

    /// Completes once a stop was asked for: at once if it already was. Never completes when
    /// no handler could be installed.
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut signal = self.signal.clone();
        async move {
            let asked = signal.wait_for(Option::is_some).await.is_ok();
            if !asked {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The signal that asked to stop, if one did.
    pub fn signal(&self) -> Option<Signal> {
        *self.signal.borrow()
    }
}

/// The first SIGINT or SIGTERM, its handlers installed before this returns; `None` when
/// they cannot be.
#[cfg(unix)]
fn first_signal() -> impl Future<Output = Option<Signal>> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                Some(()) = interrupt.recv() => Some(Signal::Interrupt),
                Some(()) = terminate.recv() => Some(Signal::Terminate),
                else => None,
            },
            (Ok(mut interrupt), Err(_)) => interrupt.recv().await.map(|()| Signal::Interrupt),
            (Err(_), Ok(mut terminate)) => terminate.recv().await.map(|()| Signal::Terminate),
            (Err(_), Err(_)) => None,
        }
    }
}

/// Ctrl-C, its handler installed before this returns (it is on the first poll).
#[cfg(not(unix))]
fn first_signal() -> impl Future<Output = Option<Signal>> + Send + 'static {
    use futures_util::FutureExt;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let first = (&mut ctrl_c).now_or_never();
    async move {
        match first {
            Some(Ok(())) => Some(Signal::Interrupt),
            Some(Err(_)) => None,
            None => ctrl_c.await.ok().map(|()| Signal::Interrupt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_what_shells_report() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Interrupt.to_string(), "SIGINT");
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
    }
}
