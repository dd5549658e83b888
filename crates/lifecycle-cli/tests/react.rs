//! `lifecycle react`, run as a user runs it, against a real nats-server with JetStream and
//! real programs (small shell scripts written here: a script is what a user's rule runs,
//! not a shell wrapping our arguments). Every child process is killed on drop.

mod common;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Logged, free_port, metric, scrape_until, wait_for_consumer, wait_settled};
use lifecycle_core::{Event, EventType, Format};
use lifecycle_nats::{ConnectOptions, Connection, DEFAULT_RETENTION, Settings};
use lifecycle_testsupport::NatsServer;

/// A running `lifecycle react`.
type React = Logged;

/// How long react may take to make its consumer, and to settle what it was given.
const CONSUMER_WITHIN: Duration = Duration::from_secs(30);
const SETTLED_WITHIN: Duration = Duration::from_secs(120);
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

/// A temporary directory with the rules file and the scripts the rules run.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempfile::Builder::new()
                .prefix("lifecycle-react-")
                .tempdir()
                .unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes an executable `/bin/sh` script; `$OUT` in it is this directory.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        let text = format!("#!/bin/sh\nOUT='{}'\n{body}\n", self.dir.path().display());
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn rules(&self, text: &str) -> PathBuf {
        let path = self.path("rules.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The complete lines of `$OUT/<name>` (a script may be writing one).
    fn lines(&self, name: &str) -> Vec<String> {
        lifecycle_testsupport::complete_lines(&self.path(name))
    }
}

async fn connect(server: &NatsServer) -> Connection {
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let connection = Connection::connect(&settings).await.unwrap();
    connection
        .ensure_events_stream(DEFAULT_RETENTION)
        .await
        .unwrap();
    connection
}

fn startup(identity: &str) -> Event {
    Event::builder(EventType::Startup)
        .identity(identity)
        .component("server")
        .version("0.29.4")
        .build()
        .unwrap()
}

async fn publish(connection: &Connection, events: &[Event]) {
    let publisher = connection.publisher(Format::Choria);
    publisher.publish_all(events).await.unwrap();
    publisher.flush().await.unwrap();
}

/// `count` startup events for `nodes` identities, node0 ... in turn.
fn fleet(count: usize, nodes: usize) -> Vec<Event> {
    (0..count)
        .map(|i| startup(&format!("node{}.example.net", i % nodes)))
        .collect()
}

/// Each identity's event ids, in publish order.
fn by_identity(events: &[Event]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for event in events {
        map.entry(event.identity().to_owned())
            .or_default()
            .push(event.id().to_owned());
    }
    map
}

/// Waits until every event's id is in its identity's file.
async fn wait_all_handled(setup: &Setup, events: &[Event], react: &[&React]) {
    let expected = by_identity(events);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let missing: usize = expected
            .iter()
            .map(|(identity, ids)| {
                let got: HashSet<String> = setup.lines(identity).into_iter().collect();
                ids.iter().filter(|id| !got.contains(*id)).count()
            })
            .sum();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} events not handled:\n{}",
            react
                .iter()
                .map(|r| r.log())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each identity's file, duplicates after the first arrival removed, is its events in
/// publish order; returns how many lines were repeats.
fn assert_in_order(setup: &Setup, events: &[Event]) -> usize {
    let mut repeats = 0;
    for (identity, ids) in by_identity(events) {
        let lines = setup.lines(&identity);
        let mut seen = HashSet::new();
        let first: Vec<&String> = lines.iter().filter(|id| seen.insert(*id)).collect();
        repeats += lines.len() - first.len();
        let ids: Vec<&String> = ids.iter().collect();
        assert_eq!(first, ids, "{identity}: every event, in publish order");
    }
    repeats
}

/// Appends the id to a file named for the identity, failing about one run in ten first.
const RECORD_FLAKY: &str = r#"
if [ "$(od -An -N1 -tu1 /dev/urandom)" -lt 26 ]; then echo "unlucky $1" >&2; exit 1; fi
printf '%s\n' "$2" >> "$OUT/$1"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_events_for_two_hundred_nodes_with_a_flaky_program_all_handled_in_order() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    let script = setup.script("record", RECORD_FLAKY);
    let rules = setup.rules(&format!(
        r#"
[[rules]]
name = "record"
filter = "startup,component=server"
exec = ["{}", "{{{{ identity }}}}", "{{{{ id }}}}"]
concurrency = 20
max_attempts = 0
"#,
        script.display()
    ));
    let port = free_port();
    let react = start_react(
        &server,
        &rules,
        "flaky",
        &["--metrics", &format!("127.0.0.1:{port}")],
    );
    wait_for_consumer(&connection, "flaky-record", CONSUMER_WITHIN, &[&react]).await;
    let events = fleet(1000, 200);
    // Not for this rule: acknowledged, never run.
    let shutdown = Event::builder(EventType::Shutdown)
        .identity("node0.example.net")
        .component("server")
        .build()
        .unwrap();
    publish(&connection, &[vec![shutdown], events.clone()].concat()).await;
    wait_all_handled(&setup, &events, &[&react]).await;
    wait_settled(&connection, "flaky-record", SETTLED_WITHIN, &[&react]).await;
    assert_eq!(
        assert_in_order(&setup, &events),
        0,
        "no repeats without a crash"
    );
    let scraped = scrape_until(port, "every event counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_react_succeeded_total{rule=\"record\"}") == 1000
            && metric(m, "lifecycle_react_running{rule=\"record\"}") == 0
    });
    let series = |name: &str| {
        metric(
            &scraped,
            &format!("lifecycle_react_{name}{{rule=\"record\"}}"),
        )
    };
    assert_eq!(series("matched_total"), 1000);
    assert_eq!(series("succeeded_total"), 1000);
    assert_eq!(series("dead_lettered_total"), 0);
    assert_eq!(series("running"), 0);
    let failed = series("failed_total");
    assert!(failed > 0, "some runs failed: {scraped}");
    assert_eq!(series("retried_total"), failed, "every failure retried");
    assert_eq!(series("action_duration_seconds_count"), 1000 + failed);
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_run_and_restarted_every_event_is_still_handled() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    let script = setup.script(
        "record",
        "sleep 0.02\nprintf '%s\\n' \"$2\" >> \"$OUT/$1\"\nprintf '%s\\n' \"$2\" >> \"$OUT/all\"",
    );
    let rules = setup.rules(&format!(
        r#"
[[rules]]
name = "record"
filter = "startup"
exec = ["{}", "{{{{ identity }}}}", "{{{{ id }}}}"]
concurrency = 10
"#,
        script.display()
    ));
    let mut first = start_react(&server, &rules, "crash", &[]);
    wait_for_consumer(&connection, "crash-record", CONSUMER_WITHIN, &[&first]).await;
    let events = fleet(400, 40);
    publish(&connection, &events).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while setup.lines("all").len() < 60 {
        assert!(Instant::now() < deadline, "too slow:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let at_kill = setup.lines("all").len();
    assert!(
        at_kill < events.len(),
        "the kill came too late to test anything"
    );

    let second = start_react(&server, &rules, "crash", &[]);
    wait_all_handled(&setup, &events, &[&second]).await;
    wait_settled(&connection, "crash-record", SETTLED_WITHIN, &[&second]).await;
    // Only actions running at the kill (at most the concurrency) can have run twice; the
    // restart waited for the events the first run held, so each node's order holds.
    let repeats = assert_in_order(&setup, &events);
    assert!(repeats <= 10, "{repeats} repeats");
    assert!(
        second.log().contains("waiting for them to come back first"),
        "{}",
        second.log()
    );
    eprintln!("{at_kill} handled before the kill, {repeats} repeated after it");
}

const DEAD: &str = "lifecycle.dead.react";

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_program_always_fails_is_dead_lettered_and_the_others_go_on() {
    use futures_util::StreamExt;
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    let script = setup.script(
        "record",
        "if [ \"$1\" = node3.example.net ]; then echo \"cannot provision $1\" >&2; exit 3; fi\nprintf '%s\\n' \"$2\" >> \"$OUT/$1\"",
    );
    let rules = setup.rules(&format!(
        r#"
[[rules]]
name = "provision"
filter = "startup"
exec = ["{}", "{{{{ identity }}}}", "{{{{ id }}}}"]
concurrency = 4
max_attempts = 3
dead_letter = "{DEAD}"
"#,
        script.display()
    ));
    let port = free_port();
    let react = start_react(
        &server,
        &rules,
        "dead",
        &["--metrics", &format!("127.0.0.1:{port}")],
    );
    wait_for_consumer(&connection, "dead-provision", CONSUMER_WITHIN, &[&react]).await;
    let mut letters = connection.client().subscribe(DEAD).await.unwrap();
    connection.client().flush().await.unwrap();
    let events = fleet(50, 5);
    publish(&connection, &events).await;
    let (failing, others): (Vec<Event>, Vec<Event>) = events
        .iter()
        .cloned()
        .partition(|e| e.identity() == "node3.example.net");
    wait_all_handled(&setup, &others, &[&react]).await;
    let mut dead = Vec::new();
    for _ in 0..failing.len() {
        let letter = tokio::time::timeout(Duration::from_secs(60), letters.next())
            .await
            .unwrap_or_else(|_| panic!("no dead letter:\n{}", react.log()))
            .unwrap();
        let headers = letter.headers.clone().unwrap();
        assert_eq!(
            headers
                .get("Lifecycle-Dead-Letter-Attempts")
                .unwrap()
                .as_str(),
            "3"
        );
        assert_eq!(
            headers
                .get("Lifecycle-Dead-Letter-Consumer")
                .unwrap()
                .as_str(),
            "dead-provision"
        );
        assert_eq!(
            headers
                .get("Lifecycle-Dead-Letter-Handler")
                .unwrap()
                .as_str(),
            "rule provision (exec)"
        );
        let reason = headers
            .get("Lifecycle-Dead-Letter-Reason")
            .unwrap()
            .as_str();
        assert!(
            reason.ends_with("exited with status 3; stderr: cannot provision node3.example.net"),
            "{reason}"
        );
        dead.push(
            headers
                .get("Lifecycle-Event-Id")
                .unwrap()
                .as_str()
                .to_owned(),
        );
        let event = Event::from_json(&letter.payload).unwrap();
        assert_eq!(event.id(), dead.last().unwrap().as_str(), "as published");
    }
    let failing_ids: Vec<String> = failing.iter().map(|e| e.id().to_owned()).collect();
    assert_eq!(dead, failing_ids, "each of them, in order");
    wait_settled(&connection, "dead-provision", SETTLED_WITHIN, &[&react]).await;
    assert_in_order(&setup, &others);
    assert!(setup.lines("node3.example.net").is_empty());
    let scraped = scrape_until(port, "every event counted", METRICS_WITHIN, |m| {
        metric(m, "lifecycle_react_succeeded_total{rule=\"provision\"}") == 40
            && metric(m, "lifecycle_react_dead_lettered_total{rule=\"provision\"}") == 10
    });
    let series = |name: &str| {
        metric(
            &scraped,
            &format!("lifecycle_react_{name}{{rule=\"provision\"}}"),
        )
    };
    assert_eq!(series("dead_lettered_total"), 10);
    assert_eq!(series("succeeded_total"), 40);
    assert_eq!(series("failed_total"), 30);
    assert_eq!(series("retried_total"), 20);
    let logged = react
        .log()
        .lines()
        .filter(|l| l.contains("dead-lettering the event"))
        .count();
    assert_eq!(logged, 10, "each logged once");
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_at_once_sleeping_a_second_never_more_than_ten() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    // Records its start and end times (nanoseconds) on one line.
    let script = setup.script(
        "slow",
        "start=$(date +%s%N)\nsleep 1\nprintf '%s %s %s\\n' \"$start\" \"$(date +%s%N)\" \"$1\" >> \"$OUT/runs\"",
    );
    let rules = setup.rules(&format!(
        r#"
[[rules]]
name = "slow"
filter = "startup"
exec = ["{}", "{{{{ identity }}}}"]
concurrency = 10
"#,
        script.display()
    ));
    let react = start_react(&server, &rules, "slow", &[]);
    wait_for_consumer(&connection, "slow-slow", CONSUMER_WITHIN, &[&react]).await;
    let events = fleet(40, 40);
    let started = Instant::now();
    publish(&connection, &events).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while setup.lines("runs").len() < 40 {
        assert!(Instant::now() < deadline, "{}", react.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let runs: Vec<(u128, u128)> = setup
        .lines("runs")
        .iter()
        .map(|line| {
            let mut parts = line.split(' ');
            let start = parts.next().unwrap().parse().unwrap();
            let end = parts.next().unwrap().parse().unwrap();
            (start, end)
        })
        .collect();
    // The most running at any one time: sweep the starts and ends.
    let mut edges: Vec<(u128, i32)> = runs
        .iter()
        .flat_map(|(start, end)| [(*start, 1), (*end, -1)])
        .collect();
    edges.sort_by_key(|(at, delta)| (*at, *delta));
    let mut now = 0;
    let mut most = 0;
    for (_, delta) in edges {
        now += delta;
        most = most.max(now);
    }
    assert!(most <= 10, "{most} ran at once");
    assert!(most >= 5, "they ran in parallel: at most {most} at once");
    // About 4 s (four rounds of ten) on a quiet machine; how long is the benchmarks' business.
    eprintln!("40 runs of 1 s, 10 at once: {took:?}, at most {most} at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_on_one_durable_name_share_the_events_each_handled_once() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    let script = setup.script(
        "record",
        "sleep 0.01\nprintf '%s\\n' \"$2\" >> \"$OUT/$1\"\nprintf '%s %s\\n' \"$PPID\" \"$2\" >> \"$OUT/by-process\"",
    );
    let rules = setup.rules(&format!(
        r#"
[[rules]]
name = "record"
filter = "startup"
exec = ["{}", "{{{{ identity }}}}", "{{{{ id }}}}"]
concurrency = 5
"#,
        script.display()
    ));
    let one = start_react(&server, &rules, "shared", &[]);
    wait_for_consumer(&connection, "shared-record", CONSUMER_WITHIN, &[&one]).await;
    let two = start_react(&server, &rules, "shared", &[]);
    // Both pulling before the events come.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !two.log().contains("handling events") {
        assert!(Instant::now() < deadline, "{}", two.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = fleet(300, 30);
    publish(&connection, &events).await;
    wait_all_handled(&setup, &events, &[&one, &two]).await;
    wait_settled(&connection, "shared-record", SETTLED_WITHIN, &[&one, &two]).await;
    let lines = setup.lines("by-process");
    let ids: HashSet<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(lines.len(), 300, "each handled once");
    assert_eq!(ids.len(), 300);
    let mut per_process: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        *per_process
            .entry(line.split(' ').next().unwrap())
            .or_default() += 1;
    }
    assert_eq!(per_process.len(), 2, "both handled some: {per_process:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_full_of_shell_metacharacters_is_one_literal_argument() {
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    let marker = setup.path("pwned");
    // Records each argument on its own line, then the environment the rule gave it.
    let script = setup.script(
        "show-args",
        "for a in \"$@\"; do printf '[%s]\\n' \"$a\" >> \"$OUT/args\"; done\nprintf '%s\\n' \"$LIFECYCLE_IDENTITY\" \"$LIFECYCLE_TYPE\" \"$LIFECYCLE_COMPONENT\" \"$LIFECYCLE_VERSION\" \"$LIFECYCLE_SUBJECT\" >> \"$OUT/env\"\ncat > \"$OUT/stdin\"",
    );
    let rules = setup.rules(&format!(
        r#"
[[rules]]
name = "hostile"
filter = "startup"
exec = ["{}", "--node", "{{{{ identity }}}}", "{{{{ component }}}}-{{{{ version }}}}"]
"#,
        script.display()
    ));
    let react = start_react(&server, &rules, "hostile", &[]);
    wait_for_consumer(&connection, "hostile-hostile", CONSUMER_WITHIN, &[&react]).await;
    let identity = format!(
        "$(touch {m}); touch {m} `touch {m}` ; rm -rf {m} && echo \"'x'\" | sh",
        m = marker.display()
    );
    let event = startup(&identity);
    publish(&connection, std::slice::from_ref(&event)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !setup.path("stdin").exists() || setup.lines("env").len() < 5 {
        assert!(Instant::now() < deadline, "{}", react.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_settled(&connection, "hostile-hostile", SETTLED_WITHIN, &[&react]).await;
    assert_eq!(
        setup.lines("args"),
        [
            "[--node]".to_owned(),
            format!("[{identity}]"),
            "[server-0.29.4]".to_owned()
        ]
    );
    assert_eq!(
        setup.lines("env"),
        [
            identity.clone(),
            "startup".into(),
            "server".into(),
            "0.29.4".into(),
            "choria.lifecycle.event.startup.server".into()
        ]
    );
    assert_eq!(
        std::fs::read(setup.path("stdin")).unwrap(),
        event.to_json(),
        "the event's JSON on stdin"
    );
    assert!(!marker.exists(), "nothing but the configured program ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_prints_what_would_run_and_acknowledges_nothing() {
    use futures_util::StreamExt;
    let server = NatsServer::start();
    let connection = connect(&server).await;
    let setup = Setup::new();
    let rules = setup.rules(
        r#"
[[rules]]
name = "provision"
filter = "startup,component=provision_mode_server"
exec = ["/usr/local/bin/provision", "--node", "{{ identity }}"]

[[rules]]
name = "notify-cd"
filter = "upgraded"
http = { url = "https://cd.example.net/hooks/choria?key=s3cret", mode = "structured" }
"#,
    );
    let provisioning = Event::builder(EventType::Startup)
        .identity("new1.example.net")
        .component("provision_mode_server")
        .version("0.29.4")
        .build()
        .unwrap();
    let upgraded = Event::builder(EventType::Upgraded)
        .identity("web1.example.net")
        .component("server")
        .version("0.29.3")
        .new_version("0.29.4")
        .build()
        .unwrap();
    publish(
        &connection,
        &[
            startup("ignored.example.net"),
            provisioning.clone(),
            upgraded.clone(),
        ],
    )
    .await;
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
    let js = async_nats::jetstream::new(connection.client().clone());
    let stream = js.get_stream("CHORIA_EVENTS").await.unwrap();
    let consumers: Vec<_> = stream.consumers().map(|info| info.unwrap()).collect().await;
    for info in consumers {
        assert_eq!(info.config.durable_name, None, "{info:?}");
    }
}

#[test]
fn check_names_the_rule_and_the_line_of_every_problem() {
    let setup = Setup::new();
    let good = setup.rules(
        r#"
[[rules]]
name = "provision"
filter = "startup,component=provision_mode_server"
exec = ["/usr/local/bin/provision", "--node", "{{ identity }}"]
concurrency = 10
key = "identity"
max_attempts = 5
timeout = "2m"
dedupe = "10m"
dead_letter = "lifecycle.dead.provision"

[[rules]]
name = "notify-cd"
filter = "upgraded,component=server"
http = { url = "https://cd.example.net/hooks/choria", mode = "structured" }
"#,
    );
    let check = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .arg("react")
            .arg("--check")
            .arg(path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let output = check(&good);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{}: 2 rules, valid\n", good.display())
    );

    let bad = setup.rules(
        r#"[[rules]]
name = "provision"
filter = "startup,version>>1"
exec = ["/usr/local/bin/provision", "{{ identity"]

[[rules]]
name = "provision"
filter = "upgraded"
http = { url = "ftp://cd.example.net/", mode = "binary" }
timeout = "2 minutes"

[[rules]]
name = "a.b"
filter = "alive"
exec = ["{{ identity }}"]
key = "node"
dedupe = "10m"
dead_letter = "choria.lifecycle.dead"
concurrency = 0
"#,
    );
    let output = check(&bad);
    assert_eq!(output.status.code(), Some(1));
    let file = bad.display();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let expected = [
        format!("{file}:3: rule 'provision': filter: "),
        format!("{file}:4: rule 'provision': exec[1]: invalid template: "),
        format!("{file}:7: rule 'provision': the name is used twice (first on line 2)"),
        format!(
            "{file}:9: rule 'provision': http.url: invalid receiver URL: unknown scheme 'ftp' (expected http:// or https://)"
        ),
        format!("{file}:10: rule 'provision': timeout: "),
        format!("{file}:13: rule 'a.b': invalid rule name 'a.b': "),
        format!(
            "{file}:15: rule 'a.b': exec[0]: the program cannot be a template: an event must never choose what runs"
        ),
        format!(
            "{file}:16: rule 'a.b': key: unknown key 'node' (use identity, component, identity+component, none)"
        ),
        format!(
            "{file}:18: rule 'a.b': dead-letter subject \"choria.lifecycle.dead\" is where events are published: they would be received again"
        ),
        format!("{file}:19: rule 'a.b': concurrency: must be from 1 to 10000, not 0"),
    ];
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(expected.as_str()),
            "{line:?} should start with {expected:?}\n{stderr}"
        );
    }

    let broken = setup.rules(
        "[[rules]]\nname = \"x\"\nfilter = \"alive\"\nexec = [\"/bin/true\"]\nconcurency = 3\n",
    );
    let output = check(&broken);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
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
    let setup = Setup::new();
    let rules =
        setup.rules("[[rules]]\nname = \"x\"\nfilter = \"alive\"\nexec = [\"/bin/true\"]\n");
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("react")
        .arg("--rules")
        .arg(&rules)
        .args(["--durable", "react", "--server", &server.url()])
        .env_remove("RUST_LOG")
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "lifecycle: react consumes the JetStream stream CHORIA_EVENTS, and the NATS server has no \
         JetStream: enable it, then create the stream with `lifecycle streams create`\n"
    );

    let with_jetstream = NatsServer::start();
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("react")
        .arg("--rules")
        .arg(&rules)
        .args(["--durable", "react", "--server", &with_jetstream.url()])
        .env_remove("RUST_LOG")
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "lifecycle: rule x: cannot consume CHORIA_EVENTS with the durable consumer 'react-x': \
         the JetStream stream CHORIA_EVENTS does not exist on the NATS server: create it with \
         `lifecycle streams create`\n"
    );
}
