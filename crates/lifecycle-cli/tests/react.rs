//! `lifecycle react`, run as a user runs it, against a real nats-server with JetStream and
//! real programs (small shell scripts written here: a script is what a user's rule runs,
//! not a shell wrapping our arguments). Every child process is killed on drop.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Running, free_port, metric, scrape_until};
use lifecycle_testsupport::{
    Logged, NatsServer, RECORD_ALL, Scripts, events_stream, fleet, publish, shutdown,
    started_with_events, startup, upgraded, wait_for_consumer, wait_settled,
};

/// A running `lifecycle react`.
type React = Logged;

/// How long react may take to count what it did, once its programs have run.
const METRICS_WITHIN: Duration = Duration::from_secs(30);

fn start_react(server: &NatsServer, rules: &Path, durable: &str, extra: &[&str]) -> React {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
    command
        .arg("react")
        .arg("--rules")
        .arg(rules)
        .args([
            "--durable",
            durable,
            "--ack-wait",
            "2s",
            "--max-backoff",
            "50ms",
        ])
        .args(["-vv", "--server", &server.url()])
        .args(extra);
    Logged::spawn(command)
}

/// Waits until `lines` of `scripts` reach `n`, showing `react`'s log if they never do.
async fn wait_lines(scripts: &Scripts, name: &str, n: usize, react: &React) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while scripts.lines(name).len() < n {
        assert!(Instant::now() < deadline, "too slow:\n{}", react.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a library test cannot do: the process killed (SIGKILL) mid-run. Started again, it
/// waits for the events the dead one held and says so.
#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_run_and_restarted_every_event_is_still_handled() {
    let (server, connection) = started_with_events().await;
    let setup = Scripts::new();
    let rules = setup.record_rules(RECORD_ALL, "concurrency = 10");
    let mut first = start_react(&server, &rules, "crash", &[]);
    wait_for_consumer(&connection, "crash-record", &[&first]).await;
    let events = fleet(400, 40);
    publish(&connection, &events).await;
    wait_lines(&setup, "all", 60, &first).await;
    first.kill();
    let at_kill = setup.lines("all").len();
    assert!(
        at_kill < events.len(),
        "the kill came too late to test anything"
    );

    let second = start_react(&server, &rules, "crash", &[]);
    wait_for_handled(&setup, &events, &second).await;
    wait_settled(&connection, "crash-record", &[&second]).await;
    // Only actions running at the kill (at most the concurrency) can have run twice; the
    // restart waited for the events the first run held, so each node's order holds.
    let repeats = setup.assert_in_order(&events);
    assert!(repeats <= 10, "{repeats} repeats");
    assert!(
        second.log().contains("waiting for them to come back first"),
        "{}",
        second.log()
    );
    eprintln!("{at_kill} handled before the kill, {repeats} repeated after it");
}

/// Waits until every one of `events` is in its identity's file.
async fn wait_for_handled(setup: &Scripts, events: &[lifecycle_core::Event], react: &React) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while setup.handled(events) < events.len() {
        assert!(Instant::now() < deadline, "not handled:\n{}", react.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const DEAD: &str = "lifecycle.dead.react";

/// The CLI's part of dead-lettering: `--metrics` serves the rule's counters (every attempt
/// timed) and the log says each dead letter once. What a dead letter holds is
/// lifecycle-react's `failing_programs_are_dead_lettered_and_the_others_go_on`.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_program_always_fails_is_dead_lettered_and_the_others_go_on() {
    let (server, connection) = started_with_events().await;
    let setup = Scripts::new();
    let rules = setup.record_rules(
        "if [ \"$1\" = node3.example.net ]; then echo \"cannot provision $1\" >&2; exit 3; fi\nprintf '%s\\n' \"$2\" >> \"$OUT/$1\"",
        &format!("concurrency = 4\nmax_attempts = 3\ndead_letter = \"{DEAD}\""),
    );
    let port = free_port();
    let react = start_react(
        &server,
        &rules,
        "dead",
        &["--metrics", &format!("127.0.0.1:{port}")],
    );
    wait_for_consumer(&connection, "dead-record", &[&react]).await;
    let events = fleet(50, 5);
    publish(&connection, &events).await;
    let others: Vec<_> = events
        .iter()
        .filter(|e| e.identity() != "node3.example.net")
        .cloned()
        .collect();
    wait_for_handled(&setup, &others, &react).await;
    wait_settled(&connection, "dead-record", &[&react]).await;
    setup.assert_in_order(&others);
    assert!(setup.lines("node3.example.net").is_empty());
    let scraped = scrape_until(port, "every event counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_react_succeeded_total{rule=\"record\"}") == 40
            && metric(m, "lifecycle_react_dead_lettered_total{rule=\"record\"}") == 10
    });
    let series = |name: &str| {
        metric(
            &scraped,
            &format!("lifecycle_react_{name}{{rule=\"record\"}}"),
        )
    };
    assert_eq!(series("matched_total"), 50);
    assert_eq!(series("dead_lettered_total"), 10);
    assert_eq!(series("succeeded_total"), 40);
    assert_eq!(series("failed_total"), 30);
    assert_eq!(series("retried_total"), 20);
    assert_eq!(series("running"), 0);
    // One observation per attempt: 40 that succeeded, 30 that failed.
    assert_eq!(series("action_duration_seconds_count"), 40 + 30);
    let logged = react
        .log()
        .lines()
        .filter(|l| l.contains("dead-lettering the event"))
        .count();
    assert_eq!(logged, 10, "each logged once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_prints_what_would_run_and_acknowledges_nothing() {
    let (server, connection) = started_with_events().await;
    let setup = Scripts::new();
    let rules = setup.write(
        "rules.toml",
        r#"
[[rules]]
name = "provision"
filter = "startup"
exec = ["/usr/local/bin/provision", "--node", "{{ identity }}"]

[[rules]]
name = "notify-cd"
filter = "upgraded"
http = { url = "https://cd.example.net/hooks/choria?key=s3cret", mode = "structured" }
"#,
    );
    // Only the last two are for a rule; --count 2 ends the run after them.
    let provisioning = startup("new1.example.net");
    let upgraded = upgraded("web1.example.net", "0.29.3", "0.29.4");
    let events = [
        shutdown("ignored.example.net"),
        provisioning.clone(),
        upgraded.clone(),
    ];
    publish(&connection, &events).await;
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("react")
        .arg("--rules")
        .arg(&rules)
        .args([
            "--dry-run",
            "--since",
            "1h",
            "--count",
            "2",
            "--server",
            &server.url(),
        ])
        .env_remove("NATS_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "provision: exec [\"/usr/local/bin/provision\",\"--node\",\"new1.example.net\"] <- {provisioning}\n\
             notify-cd: POST https://cd.example.net/hooks/choria?key=*** (structured mode) id {} <- {upgraded}\n",
            upgraded.id()
        )
    );
    // The replay's consumer was an ephemeral one: no durable consumer holds a position.
    let stream = events_stream(&connection).await;
    let consumers: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(stream.consumers()).await;
    for info in consumers {
        let info = info.unwrap();
        assert_eq!(info.config.durable_name, None, "{info:?}");
    }
}

#[test]
fn check_names_the_rule_and_the_line_of_every_problem() {
    let setup = Scripts::new();
    // Valid: what each setting of a rule may hold is lifecycle-react's tests/load.rs.
    let good = setup.write(
        "rules.toml",
        "[[rules]]\nname = \"provision\"\nfilter = \"startup\"\nexec = [\"/bin/true\"]\n\n\
         [[rules]]\nname = \"notify-cd\"\nfilter = \"upgraded\"\nhttp = { url = \"https://cd.example.net/\" }\n",
    );
    let check = |path: &Path| {
        Running::spawn(common::bare(&["react", "--check", path.to_str().unwrap()])).finish()
    };
    let output = check(&good);
    assert_eq!(output.code(), Some(0));
    assert_eq!(
        output.stdout,
        format!("{}: 2 rules, valid\n", good.display())
    );

    // Every problem on a line of its own, with the file and its line, and status 1. Which
    // problems there are and what each says is lifecycle-react's
    // `every_problem_is_reported_with_its_rule_and_line` (tests/load.rs), on the same lines.
    let bad = setup.write(
        "rules.toml",
        "[[rules]]\nname = \"provision\"\nfilter = \"startup,version>>1\"\nexec = [\"/bin/true\"]\nkey = \"node\"\n",
    );
    let output = check(&bad);
    assert_eq!(output.code(), Some(1));
    let file = bad.display();
    let stderr = &output.stderr;
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{file}:3: rule 'provision': filter: ")),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{file}:5: rule 'provision': key: unknown key 'node' (use identity, component, identity+component, none)"
        )
    );

    let broken = setup.write(
        "rules.toml",
        "[[rules]]\nname = \"x\"\nfilter = \"alive\"\nexec = [\"/bin/true\"]\nconcurency = 3\n",
    );
    let output = check(&broken);
    assert_eq!(output.code(), Some(1));
    let stderr = &output.stderr;
    assert!(
        stderr.starts_with(&format!(
            "{}:5: unknown field `concurency`",
            broken.display()
        )),
        "{stderr}"
    );
}

#[test]
fn without_jetstream_the_error_names_choria_events() {
    let server = NatsServer::with_options(lifecycle_testsupport::ServerOptions {
        jetstream: false,
        ..Default::default()
    });
    let setup = Scripts::new();
    let rules = setup.write(
        "rules.toml",
        "[[rules]]\nname = \"x\"\nfilter = \"alive\"\nexec = [\"/bin/true\"]\n",
    );
    let react = [
        "react",
        "--rules",
        rules.to_str().unwrap(),
        "--durable",
        "react",
    ];
    let output = common::run(&server, &react);
    assert_eq!(output.code(), Some(2));
    assert_eq!(
        output.stderr,
        "lifecycle: react consumes the JetStream stream CHORIA_EVENTS, and the NATS server has no \
         JetStream: enable it, then create the stream with `lifecycle streams create`\n"
    );

    let output = common::run(&NatsServer::start(), &react);
    assert_eq!(output.code(), Some(2));
    assert_eq!(
        output.stderr,
        "lifecycle: rule x: cannot consume CHORIA_EVENTS with the durable consumer 'react-x': \
         the JetStream stream CHORIA_EVENTS does not exist on the NATS server: create it with \
         `lifecycle streams create`\n"
    );
}
