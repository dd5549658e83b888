//! `Shutdown` catches the signals sent to this process (its own test binary: the handlers
//! stay installed for the process's life).

#![cfg(unix)]

use std::process::Command;
use std::time::Duration;

use lifecycle_nats::{Shutdown, Signal};

fn send(signal: &str) {
    let status = Command::new("kill")
        .args([signal, &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_asks_to_stop_every_clone_and_says_which_signal() {
    let shutdown = Shutdown::install();
    let clone = shutdown.clone();
    assert_eq!(shutdown.signal(), None);
    // Sent before anything awaits it: the handler was installed by `install`.
    send("-TERM");
    tokio::time::timeout(Duration::from_secs(10), clone.requested())
        .await
        .expect("SIGTERM asks to stop");
    assert_eq!(shutdown.signal(), Some(Signal::Terminate));
    assert_eq!(shutdown.signal().map(Signal::exit_code), Some(143));
    // Asked once, it stays asked.
    tokio::time::timeout(Duration::from_secs(1), shutdown.requested())
        .await
        .expect("already asked");
    // A later signal changes nothing: the first one said why.
    send("-INT");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(clone.signal(), Some(Signal::Terminate));
}
