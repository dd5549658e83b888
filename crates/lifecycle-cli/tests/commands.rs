//! `lifecycle emit`, `view` and `wait`, run as a user runs them: the built binary against a
//! real nats-server. Every child process is bounded in time and killed when dropped.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Finished, Running, emit_args, hostile_alive, lifecycle as command, lines_of, run};

use lifecycle_testsupport::{BlockingConnection, NatsServer};

/// Emits one event; returns the JSON it sent.
fn emit(server: &NatsServer, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["emit", "--json"];
    all.extend_from_slice(args);
    let out = run(server, &all);
    assert_eq!(out.code(), Some(0), "emit {args:?}: {}", out.stderr);
    serde_json::from_str(out.stdout.trim()).unwrap()
}

/// A server holding Choria's CHORIA_EVENTS stream, as a Choria broker does.
fn server_with_stream() -> NatsServer {
    let server = NatsServer::start();
    drop(BlockingConnection::connect_with_events(&server));
    server
}

fn clock(event: &serde_json::Value) -> String {
    let seconds = event["timestamp"].as_i64().unwrap().rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

#[test]
fn emit_then_view_count_prints_the_lines() {
    let server = NatsServer::start();
    let view = Running::subscribed(&server, &["view", "--count", "3", "--timeout", "120s"]);
    let alive = emit(&server, &emit_args("alive", "n1.example.net", "0.29.4"));
    let upgraded = emit(
        &server,
        &[
            "upgraded",
            "-i",
            "n2.example.net",
            "-c",
            "server",
            "--version",
            "0.29.3",
            "--new-version",
            "0.29.4",
            "--format",
            "cloudevents",
        ],
    );
    let governor = emit(
        &server,
        &[
            "governor",
            "-i",
            "n3.example.net",
            "-c",
            "server",
            "--governor",
            "rollout",
            "--sequence",
            "2",
            "--governor-event",
            "enter",
        ],
    );
    let out = view.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // The CloudEvent printed by emit --json holds the event in `data`.
    let upgraded = &upgraded["data"];
    assert_eq!(
        out.lines(),
        [
            format!(
                "{} [alive] n1.example.net: server version 0.29.4",
                clock(&alive)
            ),
            format!(
                "{} [upgraded] n2.example.net: server version 0.29.3 to 0.29.4",
                clock(upgraded)
            ),
            format!(
                "{} [governor] n3.example.net: obtained slot 2 on rollout",
                clock(&governor)
            ),
        ]
    );
}

#[test]
fn view_json_parses_and_keeps_choria_order() {
    let server = server_with_stream();
    let sent = [
        emit(&server, &emit_args("startup", "a", "1.0")),
        emit(
            &server,
            &[
                "shutdown",
                "-i",
                "b",
                "-c",
                "agent",
                "--format",
                "cloudevents",
            ],
        ),
    ];
    let out = run(
        &server,
        &[
            "view",
            "--json",
            "--since",
            "1m",
            "--count",
            "2",
            "--timeout",
            "120s",
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with(r#"{"protocol":"io.choria.lifecycle.v1.startup","id":"#));
    let startup: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let shutdown: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(startup["format"], "choria");
    assert_eq!(startup["subject"], "choria.lifecycle.event.startup.server");
    assert_eq!(startup["id"], sent[0]["id"]);
    assert_eq!(startup["version"], "1.0");
    assert_eq!(startup["timestamp"], sent[0]["timestamp"]);
    assert_eq!(shutdown["format"], "cloudevents");
    assert_eq!(shutdown["subject"], "choria.lifecycle.event.shutdown.agent");
    assert_eq!(shutdown["id"], sent[1]["id"]);
    assert_eq!(shutdown["identity"], "b");
}

#[test]
fn a_version_filter_selects_exactly_the_right_events() {
    let server = server_with_stream();
    for (identity, version) in [
        ("old", "0.9.0"),
        ("before", "0.29.0"),
        ("same", "0.29.1"),
        ("after", "0.29.10"),
        ("newer", "0.30.1"),
        ("newest", "0.100.0"),
    ] {
        emit(&server, &emit_args("alive", identity, version));
    }
    emit(&server, &["shutdown", "-i", "gone", "-c", "server"]);
    let out = run(
        &server,
        &[
            "view",
            "--since",
            "1m",
            "--timeout",
            "10s",
            "--filter",
            ".version>=0.29.1",
            "--template",
            "{{ identity }} {{ version }}",
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.lines(),
        [
            "same 0.29.1",
            "after 0.29.10",
            "newer 0.30.1",
            "newest 0.100.0"
        ]
    );
}

#[test]
fn wait_exits_0_once_enough_distinct_identities_matched() {
    let server = NatsServer::start();
    let mut wait = Running::subscribed(
        &server,
        &[
            "wait",
            "--filter",
            "alive,version=0.29.4",
            "--count",
            "2",
            "--distinct",
            "identity",
            "--timeout",
            "120s",
        ],
    );
    let alive = |identity: &str, version: &str| {
        emit(&server, &emit_args("alive", identity, version));
    };
    alive("n1", "0.29.4");
    alive("n1", "0.29.4");
    alive("n2", "0.29.3");
    // The third event seen means the first two were counted without ending the wait.
    for _ in 0..3 {
        wait.logged("event received");
    }
    assert!(wait.still_running(), "wait ended with one identity matched");
    alive("n2", "0.29.4");
    let out = wait.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn wait_exits_1_on_timeout() {
    let server = NatsServer::start();
    let started = Instant::now();
    let out = run(
        &server,
        &["wait", "--filter", "provisioned", "--timeout", "1s"],
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(
        out.stderr.contains("condition not met: 0/1 events"),
        "{}",
        out.stderr
    );
}

#[test]
fn wait_since_counts_events_published_before_it_started() {
    let server = server_with_stream();
    for identity in ["n1", "n2", "n3"] {
        emit(&server, &emit_args("startup", identity, "0.29.4"));
    }
    let out = run(
        &server,
        &[
            "wait",
            "--filter",
            "startup,.version>=0.29.4",
            "--count",
            "3",
            "--distinct",
            "identity",
            "--since",
            "10m",
            "--timeout",
            "120s",
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // Without --since, nothing has happened yet.
    let out = run(
        &server,
        &["wait", "--filter", "startup", "--timeout", "500ms"],
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
}

#[test]
fn usage_errors_exit_2_before_connecting() {
    // Nothing listens on this server: the errors must come before any connection.
    let server = NatsServer::start();
    let mut stopped = server;
    stopped.stop();
    let out = run(&stopped, &["emit", "alive", "-i", "n1", "-c", "server"]);
    assert_eq!(out.code(), Some(2));
    assert_eq!(out.stderr, "lifecycle: alive events need --version\n");
    let out = run(&stopped, &["view", "--filter", "alive,.version 1"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr
            .contains("expected an operator after '.version' at position 16"),
        "{}",
        out.stderr
    );
    let out = run(&stopped, &["wait", "--filter", "alive,bogus"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr.contains("unknown event type 'bogus'"),
        "{}",
        out.stderr
    );
    // A connection error is a 2 as well.
    let out = run(&stopped, &["wait", "--filter", "alive", "--timeout", "5s"]);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.starts_with("lifecycle: cannot connect"),
        "{}",
        out.stderr
    );
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
        command
            .args(["completions", shell])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = Running::spawn(command).finish();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert!(out.stdout.contains("lifecycle"), "{shell}");
        assert!(out.stdout.contains("distinct"), "{shell}");
    }
}

/// Publishes a machine transition through the library, as an autonomous agent would.
fn publish_transition(server: &NatsServer) {
    use lifecycle_core::{AnyEvent, Format, MachineEvent, Transition};
    let nats = BlockingConnection::connect(server);
    nats.block_on(async {
        let publisher = nats.connection.publisher(Format::CloudEvents);
        let transition = AnyEvent::from(MachineEvent::Transition(Transition::new(
            "n1.example.net",
            "m-1",
            "1.0.0",
            1_700_000_000,
            "nagios",
            "fire",
            "idle",
            "running",
        )));
        publisher.publish_any(&transition).await.unwrap();
        publisher.flush().await.unwrap();
    });
}

#[test]
fn view_shows_machine_events_when_the_filter_asks_and_narrows_by_type_and_component() {
    let server = NatsServer::start();
    let machines = Running::subscribed(
        &server,
        &[
            "view",
            "--filter",
            "transition",
            "--count",
            "1",
            "--timeout",
            "120s",
        ],
    );
    let narrowed = Running::subscribed(
        &server,
        &[
            "view",
            "--type",
            "alive",
            "--component",
            "agent",
            "--debug",
            "--count",
            "1",
            "--timeout",
            "120s",
        ],
    );
    emit(
        &server,
        &["alive", "-i", "a", "-c", "server", "--version", "1"],
    );
    emit(
        &server,
        &["startup", "-i", "b", "-c", "agent", "--version", "1"],
    );
    publish_transition(&server);
    let sent = emit(
        &server,
        &["alive", "-i", "c", "-c", "agent", "--version", "2"],
    );
    let out = machines.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.lines(),
        ["22:13:20 n1.example.net nagios transitioned via event fire: idle => running"]
    );
    // --debug prints the payload as received: what emit sent.
    let out = narrowed.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(lines[0].starts_with(r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"#));
    assert!(
        !lines[0].contains("\"subject\""),
        "not the --json form: {}",
        lines[0]
    );
    let payload: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(payload, sent);
}

#[test]
fn a_closed_pipe_ends_view_quietly() {
    let server = server_with_stream();
    for identity in ["a", "b", "c"] {
        emit(&server, &["shutdown", "-i", identity, "-c", "server"]);
    }
    let mut child = command(&server, &["view", "--since", "1m", "--timeout", "120s"])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    assert!(first.ends_with("[shutdown] a: server\n"), "{first}");
    // The reader is gone: the next line written ends the run, quietly and with success.
    emit(&server, &["shutdown", "-i", "d", "-c", "server"]);
    let running = Running {
        stdout: lines_of(std::io::empty()),
        stderr: lines_of(child.stderr.take().unwrap()),
        child,
        stdout_read: Vec::new(),
        stderr_read: Vec::new(),
    };
    let out = running.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
}

#[test]
fn ctrl_c_ends_view_and_wait_with_130() {
    let server = NatsServer::start();
    for args in [&["view"][..], &["wait", "--filter", "alive"][..]] {
        let running = Running::subscribed(&server, args);
        let status = Command::new("kill")
            .args(["-INT", &running.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = running.finish();
        assert_eq!(out.code(), Some(130), "{args:?}: {}", out.stderr);
    }
}

/// Publishes raw payloads, as any publisher on the broker can.
fn publish_raw(server: &NatsServer, messages: &[(&str, Vec<u8>)]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        for (subject, payload) in messages {
            client
                .publish(subject.to_string(), payload.clone().into())
                .await
                .unwrap();
        }
        client.flush().await.unwrap();
    });
}

/// What `view` writes holds no ESC, no CR and no C1 control, one line per event, whatever
/// the events hold: display lines and the values a template prints are escaped (the
/// template's own tab is not), log lines too; --json escapes as JSON does; --debug into a
/// pipe is the payload byte for byte.
#[test]
fn view_escapes_control_characters_from_events() {
    let server = NatsServer::start();
    let subject = "choria.lifecycle.event.alive.server";
    let views = [
        vec!["view", "--count", "3", "--timeout", "120s"],
        vec![
            "view",
            "--count",
            "3",
            "--timeout",
            "120s",
            "--template",
            "{{ identity }}\t{{ version }}",
        ],
        vec!["view", "--count", "3", "--timeout", "120s", "--json"],
        vec!["view", "--count", "3", "--timeout", "120s", "--debug"],
    ];
    let running: Vec<Running> = views
        .iter()
        .map(|args| Running::subscribed(&server, args))
        .collect();
    let events = [
        hostile_alive("\u{1b}[2J", "0.29.4"),
        hostile_alive("web2\r\n[alive] forged", "0.29.4"),
        hostile_alive("web3\u{9b}31m", "0.29.4\u{202e}"),
    ];
    let invalid = br#"{"protocol":"io.choria.lifecycle.v1.\u001b[2J\r\nforged"}"#.to_vec();
    let mut messages = vec![(subject, invalid)];
    messages.extend(events.iter().map(|e| (subject, e.clone())));
    publish_raw(&server, &messages);
    let outs: Vec<Finished> = running.into_iter().map(Running::finish).collect();
    for (args, out) in views.iter().zip(&outs) {
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.stderr);
        assert_eq!(out.lines().len(), 3, "{args:?}: {:?}", out.stdout);
        for line in out.stderr.lines() {
            assert!(
                !line.starts_with("forged"),
                "{args:?}: a forged log line: {line:?}"
            );
            if line.contains("unknown protocol") {
                assert!(
                    line.contains(r"'io.choria.lifecycle.v1.\x1b[2J\r\nforged'"),
                    "{line}"
                );
            }
        }
        assert!(
            !out.stderr.contains(['\u{1b}', '\r']),
            "{args:?}: {:?}",
            out.stderr
        );
        if !args.contains(&"--debug") {
            assert!(
                !out.stdout.contains(['\u{1b}', '\r']),
                "{args:?}: {:?}",
                out.stdout
            );
        }
        // JSON writes C1 controls as they are, as Go's encoding/json does.
        if !args.contains(&"--debug") && !args.contains(&"--json") {
            assert!(!out.stdout.contains('\u{9b}'), "{args:?}: {:?}", out.stdout);
        }
    }
    assert_eq!(
        outs[0].lines(),
        [
            r"22:13:20 [alive] \x1b[2J: server version 0.29.4",
            r"22:13:20 [alive] web2\r\n[alive] forged: server version 0.29.4",
            r"22:13:20 [alive] web3\u{9b}31m: server version 0.29.4\u{202e}",
        ]
    );
    assert_eq!(
        outs[1].lines(),
        [
            "\\x1b[2J\t0.29.4",
            "web2\\r\\n[alive] forged\t0.29.4",
            "web3\\u{9b}31m\t0.29.4\\u{202e}",
        ]
    );
    let identities: Vec<String> = outs[2]
        .lines()
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["identity"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        identities,
        ["\u{1b}[2J", "web2\r\n[alive] forged", "web3\u{9b}31m"]
    );
    let payloads: Vec<&str> = events
        .iter()
        .map(|e| std::str::from_utf8(e).unwrap())
        .collect();
    assert_eq!(outs[3].lines(), payloads);
}

/// `--since` takes an RFC 3339 time, and durations up to the longest accepted.
#[test]
fn view_since_takes_a_time_and_the_longest_duration() {
    let server = server_with_stream();
    emit(&server, &emit_args("startup", "n1", "1.0"));
    for since in [
        "2000-01-01T00:00:00Z",
        "2000-01-01T01:00:00+01:00",
        "36525d",
        "876600h",
    ] {
        let out = run(
            &server,
            &[
                "view",
                "--since",
                since,
                "--count",
                "1",
                "--timeout",
                "36525d",
            ],
        );
        assert_eq!(out.code(), Some(0), "{since}: {}", out.stderr);
        assert_eq!(out.lines().len(), 1, "{since}: {}", out.stdout);
        assert!(
            out.stdout.contains("[startup] n1: server version 1.0"),
            "{}",
            out.stdout
        );
    }
    // A time to come is refused: nats-server would read 2300 as a time in 1715 and replay
    // everything.
    for since in ["2300-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let out = run(&server, &["view", "--since", since, "--timeout", "500ms"]);
        assert_eq!(out.code(), Some(2), "{}", out.stderr);
        assert_eq!(
            out.stderr,
            format!("lifecycle: since {since} is a time to come: there is nothing to replay yet\n")
        );
    }
}

/// `--debug` on a terminal (util-linux `script` gives one) escapes what the payload holds
/// raw: JSON carries C1 controls and U+2028 unescaped.
#[test]
fn view_debug_on_a_terminal_escapes_the_payload() {
    let server = server_with_stream();
    let payload = hostile_alive("web3\u{9b}31m", "0.29.4\u{2028}");
    assert!(std::str::from_utf8(&payload).unwrap().contains('\u{9b}'));
    publish_raw(&server, &[("choria.lifecycle.event.alive.server", payload)]);
    let quoted: Vec<String> = [
        env!("CARGO_BIN_EXE_lifecycle"),
        "view",
        "--debug",
        "--since",
        "1h",
        "--count",
        "1",
        "--timeout",
        "120s",
        "--server",
        &server.url(),
    ]
    .iter()
    .map(|arg| format!("'{arg}'"))
    .collect();
    let mut script = Command::new("script");
    script
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = Running::spawn(script).finish();
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout, out.stderr);
    // The terminal ends the line with CR LF.
    let line = out.stdout.trim_end_matches(['\r', '\n']);
    assert!(
        !line.contains(['\u{9b}', '\u{2028}', '\r', '\u{1b}']),
        "{line:?}"
    );
    assert!(
        line.contains(r#""identity":"web3\u{9b}31m""#)
            && line.contains(r#""version":"0.29.4\u{2028}""#),
        "{line:?}"
    );
}
