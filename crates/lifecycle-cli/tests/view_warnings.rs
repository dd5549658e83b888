//! `lifecycle view` given a flood of messages that are not events: a couple of warning lines
//! with the total, not one line per message.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lifecycle_testsupport::{NatsServer, VERSION, alive, connect, publish_raw};

const INVALID: usize = 2000;

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_invalid_messages_make_at_most_a_couple_of_warnings_with_the_total() {
    let server = NatsServer::start();
    let args = ["view", "-v", "--count", "1", "--timeout", "60s"];
    let mut command = common::lifecycle(&server, &args);
    let mut child = command.stdout(Stdio::null()).spawn().unwrap();
    let (send, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.iter().any(|l: &String| l.contains("receiving events")) {
        let left = deadline.saturating_duration_since(Instant::now());
        log.push(lines.recv_timeout(left).expect("view subscribes"));
    }

    let connection = connect(&server).await;
    for i in 0..INVALID {
        connection
            .client()
            .publish(
                "choria.lifecycle.event.alive.server",
                format!(r#"{{"protocol":"io.choria.lifecycle.v1.bogus{i}"}}"#).into(),
            )
            .await
            .unwrap();
    }
    // Then one event: view ends after it (--count 1), so it has seen every message before.
    let event = alive("n1", VERSION);
    publish_raw(
        &connection,
        [("choria.lifecycle.event.alive.server", event.to_json())],
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "view did not stop after its event"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        log.push(line);
    }
    let warnings: Vec<&String> = log.iter().filter(|l| l.contains(" WARN ")).collect();
    assert!(
        (1..=3).contains(&warnings.len()),
        "{} warning lines:\n{}",
        warnings.len(),
        log.join("\n")
    );
    assert!(
        warnings[0].contains("invalid messages skipped total=1 "),
        "the first at once: {}",
        warnings[0]
    );
    let last = warnings[warnings.len() - 1];
    assert!(
        last.contains(&format!("invalid messages skipped total={INVALID} ")),
        "the total at the end: {last}"
    );
    assert!(
        last.contains(&format!("bogus{}", INVALID - 1)),
        "with the latest reason: {last}"
    );
}
