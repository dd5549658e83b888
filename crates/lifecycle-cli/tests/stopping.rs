//! Every command that runs until it is stopped stops alike on SIGINT (Ctrl-C) and SIGTERM
//! (what `systemctl stop`, `kill` and a CI runner cancelling a job send), with the exit
//! status its --help and the README give, and its output finished: `view`, `wait` and
//! `nodes` 130 and 143 as shells report them, the services (`tally`, `forward`, `react`,
//! `simulate`) 0. Run against a real nats-server; every child is killed on drop.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::{ROLLOUT_GATE, Running, Serving, emit_args, lifecycle, run};
use lifecycle_core::Event;
use lifecycle_testsupport::{BlockingConnection, CloudEventsReceiver, NatsServer, VERSION, alive};

/// SIGINT, then SIGTERM, with the exit status a shell reports for each.
const SIGNALS: [(&str, i32); 2] = [("-INT", 130), ("-TERM", 143)];

fn send(running: &Running, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn emit(server: &NatsServer, args: &[&str]) {
    let out = run(server, &[&["emit"], args].concat());
    assert_eq!(out.code(), Some(0), "emit {args:?}: {}", out.stderr);
}

#[test]
fn view_ends_with_130_on_sigint_and_143_on_sigterm_its_lines_whole() {
    let server = NatsServer::start();
    for (signal, code) in SIGNALS {
        let mut view = Running::subscribed(&server, &["view"]);
        emit(&server, &emit_args("alive", "node1", "0.29.4"));
        view.printed("[alive] node1: server version 0.29.4");
        send(&view, signal);
        let out = view.finish();
        assert_eq!(out.code(), Some(code), "{signal}: {}", out.stderr);
        assert_eq!(out.lines().len(), 1, "{}", out.stdout);
        assert!(
            out.stdout
                .ends_with(" [alive] node1: server version 0.29.4\n"),
            "{}",
            out.stdout
        );
    }
}

/// A CI job cancelled while `wait --until` gates a rollout: the job's log still says which
/// nodes did not pass, as on timeout.
#[test]
fn wait_until_lists_the_nodes_that_do_not_pass_on_sigterm_as_on_sigint() {
    let server = NatsServer::start();
    drop(BlockingConnection::connect_with_events(&server));
    for (identity, version) in [("behind", "0.29.4"), ("ahead", "0.30.0")] {
        emit(&server, &emit_args("startup", identity, version));
    }
    for (signal, code) in SIGNALS {
        let mut wait = Running::subscribed(
            &server,
            &[&ROLLOUT_GATE[..], &["--since", "1h", "--timeout", "120s"]].concat(),
        );
        // The replay caught up: the state is the fleet's.
        wait.logged("1/2 nodes pass");
        send(&wait, signal);
        let out = wait.finish();
        assert_eq!(out.code(), Some(code), "{signal}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("lifecycle: condition not met: 1/2 nodes pass\n"),
            "{signal}: {}",
            out.stderr
        );
        let lines = out.lines();
        assert_eq!(lines.len(), 2, "{signal}: {}", out.stdout);
        assert!(lines[0].starts_with("IDENTITY "), "{}", out.stdout);
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row[..3], ["behind", "server", "0.29.4"], "{}", out.stdout);
    }
}

#[test]
fn wait_for_events_ends_with_143_on_sigterm_saying_how_far_it_got() {
    let server = NatsServer::start();
    let wait = Running::subscribed(&server, &["wait", "--filter", "alive", "--count", "2"]);
    send(&wait, "-TERM");
    let out = wait.finish();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("lifecycle: condition not met: 0/2 events\n"),
        "{}",
        out.stderr
    );
}

/// `nodes` stopped while its replay has not caught up (a stream long enough that it is
/// still replaying when the signal comes).
#[test]
fn nodes_ends_with_143_on_sigterm_before_the_replay_caught_up() {
    let server = NatsServer::start();
    let nats = BlockingConnection::connect_with_events(&server);
    const STORED: u64 = 50_000;
    let events: Vec<Event> = (0..STORED)
        .map(|n| alive(&format!("n{n}"), VERSION))
        .collect();
    nats.publish_stored(&events, STORED);
    // At -vv every replayed event is logged: the replay takes a while.
    let nodes = Running::subscribed(&server, &["nodes", "--since", "1h"]);
    send(&nodes, "-TERM");
    let out = nodes.finish();
    assert_eq!(out.code(), Some(143), "{}", tail(&out.stderr));
    assert!(
        out.stderr
            .contains("lifecycle: the replay did not catch up\n"),
        "{}",
        tail(&out.stderr)
    );
    assert_eq!(out.stdout, "");
}

/// The last lines of a long log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// SIGTERM is tally.rs's; Ctrl-C stops it as cleanly.
#[test]
fn tally_exits_0_on_sigint() {
    let server = NatsServer::start();
    let mut tally = Serving::tally(&server, &[]);
    tally.process.signal("-INT");
    assert_eq!(tally.process.wait(Duration::from_secs(60)), Some(0));
}

#[test]
fn forward_exits_0_on_sigint_and_sigterm() {
    let server = NatsServer::start();
    let receiver = CloudEventsReceiver::start();
    let url = receiver.url();
    for (signal, _) in SIGNALS {
        let mut forward = Running::spawn(lifecycle(&server, &["forward", "--to", &url, "-v"]));
        forward.logged("receiving events");
        send(&forward, signal);
        let out = forward.finish();
        assert_eq!(out.code(), Some(0), "{signal}: {}", out.stderr);
        assert!(!out.stderr.contains("not delivered"), "{}", out.stderr);
    }
}

/// A live subscription delivers nothing again: what a stopped live forwarder had not
/// delivered is lost, and it says so, with how many.
#[test]
fn a_live_forward_stopped_while_its_receiver_refuses_says_what_it_dropped() {
    let server = NatsServer::start();
    let receiver = CloudEventsReceiver::start_failing(u32::MAX);
    let url = receiver.url();
    let mut forward = Running::spawn(lifecycle(&server, &["forward", "--to", &url, "-v"]));
    forward.logged("receiving events");
    for identity in ["n1", "n2", "n3"] {
        emit(&server, &emit_args("alive", identity, "0.29.4"));
    }
    forward.logged("action failed, retrying");
    send(&forward, "-TERM");
    // Within the grace of 10 s the receiver still refuses: one event being sent, two
    // received behind it.
    let out = forward.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "stopped with 3 events not delivered: dropped (a live subscription does not redeliver)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("delivered again"), "{}", out.stderr);
    assert!(out.stderr.contains("dropped=3"), "{}", out.stderr);
}

#[test]
fn react_exits_0_on_sigint_and_sigterm() {
    let server = NatsServer::start();
    drop(BlockingConnection::connect_with_events(&server));
    let mut rules = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        rules,
        "[[rules]]\nname = \"noop\"\nfilter = \"startup\"\nexec = [\"true\"]"
    )
    .unwrap();
    let path = rules.path().to_str().unwrap();
    for (signal, _) in SIGNALS {
        for mode in [&["--durable", "stopping"][..], &["--dry-run"][..]] {
            let args = [&["react", "--rules", path, "-v"][..], mode].concat();
            let mut react = Running::spawn(lifecycle(&server, &args));
            react.logged(if mode[0] == "--dry-run" {
                "dry run: printing what would run"
            } else {
                "handling events"
            });
            send(&react, signal);
            let out = react.finish();
            assert_eq!(out.code(), Some(0), "{signal} {mode:?}: {}", out.stderr);
        }
    }
}

/// Stopped, `simulate` still prints the fleet it simulated.
#[test]
fn simulate_exits_0_on_sigint_and_sigterm_and_prints_its_fleet() {
    let server = NatsServer::start();
    for (signal, _) in SIGNALS {
        let mut view = Running::subscribed(&server, &["view", "--filter", "startup"]);
        let simulate = Running::spawn(lifecycle(
            &server,
            &["simulate", "--nodes", "3", "--alive-interval", "1s"],
        ));
        view.printed("[startup]");
        send(&simulate, signal);
        let out = simulate.finish();
        assert_eq!(out.code(), Some(0), "{signal}: {}", out.stderr);
        let fleet: serde_json::Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
        assert_eq!(fleet[0]["nodes"], 3, "{fleet}");
    }
}
