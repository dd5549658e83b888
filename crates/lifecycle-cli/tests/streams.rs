//! `lifecycle streams` against a bare `nats-server -js`, as the README's first steps use it.

use std::process::{Command, Output, Stdio};

use lifecycle_testsupport::NatsServer;

fn lifecycle(server: &NatsServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(args)
        .args(["--server", &server.url()])
        .env_remove("NATS_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn create_makes_both_streams_once_and_then_replay_works() {
    let server = NatsServer::start();

    // Before: replaying names the command that fixes it, and `streams` says what is missing.
    let view = lifecycle(&server, &["view", "--since", "1h", "--timeout", "1s"]);
    assert_eq!(view.status.code(), Some(2));
    assert!(
        text(&view.stderr).contains(
            "the JetStream stream CHORIA_EVENTS does not exist on the NATS server: create it \
             with `lifecycle streams create`"
        ),
        "{}",
        text(&view.stderr)
    );
    let before = lifecycle(&server, &["streams", "--json"]);
    assert_eq!(before.status.code(), Some(1));
    assert_eq!(
        json_lines(&before),
        [
            serde_json::json!({"name": "CHORIA_EVENTS", "exists": false}),
            serde_json::json!({"name": "CHORIA_MACHINE", "exists": false}),
            serde_json::json!({"name": "LIFECYCLE_DEAD_LETTERS", "exists": false}),
        ]
    );

    let created = lifecycle(&server, &["streams", "create", "--events-retention", "2h"]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let stdout = text(&created.stdout);
    assert!(
        stdout.starts_with(
            "CHORIA_EVENTS: created\nCHORIA_MACHINE: created\nLIFECYCLE_DEAD_LETTERS: created\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("choria.lifecycle.>"), "{stdout}");

    // Again: idempotent, and a retention change is applied to the existing stream.
    let again = lifecycle(&server, &["streams", "create", "--events-retention", "2h"]);
    assert!(
        text(&again.stdout)
            .starts_with("CHORIA_EVENTS: already as asked\nCHORIA_MACHINE: already as asked\n"),
        "{}",
        text(&again.stdout)
    );
    let changed = lifecycle(&server, &["streams", "create", "--events-retention", "3h"]);
    assert!(
        text(&changed.stdout).starts_with(
            "CHORIA_EVENTS: retention changed from 2h to 3h\nCHORIA_MACHINE: already as asked\n"
        ),
        "{}",
        text(&changed.stdout)
    );

    let emitted = lifecycle(
        &server,
        &[
            "emit",
            "alive",
            "--identity",
            "n1.example.net",
            "--component",
            "server",
            "--version",
            "0.29.4",
        ],
    );
    assert_eq!(emitted.status.code(), Some(0), "{}", text(&emitted.stderr));
    let view = lifecycle(
        &server,
        &["view", "--since", "1h", "--count", "1", "--timeout", "10s"],
    );
    assert_eq!(view.status.code(), Some(0), "{}", text(&view.stderr));
    assert!(
        text(&view.stdout).ends_with(" [alive] n1.example.net: server version 0.29.4\n"),
        "{}",
        text(&view.stdout)
    );

    let after = lifecycle(&server, &["streams", "--json"]);
    assert_eq!(after.status.code(), Some(0));
    let streams = json_lines(&after);
    for (stream, name, subjects, retention) in [
        (&streams[0], "CHORIA_EVENTS", "choria.lifecycle.>", 3 * 3600),
        (&streams[1], "CHORIA_MACHINE", "choria.machine.>", 24 * 3600),
    ] {
        assert_eq!(stream["name"], name);
        assert_eq!(stream["subjects"], serde_json::json!([subjects]));
        assert_eq!(stream["retention_seconds"], retention);
    }
    assert_eq!(streams[0]["replicas"], 1);
    assert_eq!(streams[0]["storage"], "file");
    assert_eq!(streams[0]["messages"], 1);
    assert!(streams[0]["bytes"].as_u64() > Some(100), "{}", streams[0]);
    assert!(
        streams[0]["first"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(streams[0]["first"], streams[0]["last"]);
    assert_eq!(streams[1]["messages"], 0);
    assert_eq!(streams[1]["first"], serde_json::Value::Null);
    assert_eq!(streams[2]["name"], "LIFECYCLE_DEAD_LETTERS");
    assert_eq!(
        streams[2]["subjects"],
        serde_json::json!(["lifecycle.dead.>"])
    );
    assert_eq!(streams[2]["retention_seconds"], 7 * 24 * 3600);
}

#[test]
fn bad_values_are_refused_before_connecting() {
    let server = NatsServer::start();
    let out = lifecycle(&server, &["streams", "create", "--replicas", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--replicas"),
        "{}",
        text(&out.stderr)
    );
}
