//! `run` and `dry_run` against a real nats-server with JetStream: exec rules running small
//! scripts written here (exec passes its arguments to the program without a shell, so the
//! program is a script file), and an http rule posting to the Python SDK's CloudEvents
//! receiver. Every wait has a deadline; no fixed sleep decides an outcome.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use lifecycle_core::{Event, EventType};
use lifecycle_deliver::Metrics;
use lifecycle_nats::{Connection, ReplayFrom};
use lifecycle_react::{Options, Rules, consumer_name, dry_run, run};
use lifecycle_testsupport::{
    CloudEventsReceiver, NatsServer, RECORD, RECORD_ALL, Scripts, by_identity, event,
    events_stream, fleet, publish, shutdown, started_with_events, startup, upgraded, wait_settled,
    wait_until, within,
};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long anything may take: generous, for a loaded machine.
const WITHIN: Duration = Duration::from_secs(60);

/// A server with CHORIA_EVENTS, a connection to it, and a directory for the rules' programs.
async fn world() -> (NatsServer, Connection, Scripts) {
    let (server, connection) = started_with_events().await;
    (server, connection, Scripts::new())
}

/// The rule `record` for startup events, running `body` as its program, `extra` added.
fn record(scripts: &Scripts, body: &str, extra: &str) -> Rules {
    Rules::load(&scripts.record_rules(body, extra)).unwrap()
}

/// Writes the rules file into `scripts` and loads it.
fn rules(scripts: &Scripts, text: &str) -> Rules {
    Rules::load(&scripts.write("rules.toml", text)).unwrap()
}

/// Waits until the durable consumer `name` exists.
async fn wait_for_consumer(connection: &Connection, name: &str) {
    lifecycle_testsupport::wait_for_consumer(connection, name, &[]).await;
}

/// `run` in a task, and the sender that stops it.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), lifecycle_react::RunError>>,
}

impl Running {
    fn start(
        connection: &Connection,
        rules: &Rules,
        options: Options,
        metrics: &Metrics,
    ) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let (connection, rules, metrics) = (connection.clone(), rules.clone(), metrics.clone());
        let task = tokio::spawn(async move {
            run(&connection, &rules, &options, &metrics, async {
                let _ = stopped.await;
            })
            .await
        });
        Running {
            stop: Some(stop),
            task,
        }
    }

    /// Asks it to stop and waits until it has; it must stop cleanly.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WITHIN, &mut self.task)
            .await
            .expect("run stops in time")
            .unwrap()
            .unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `dry_run` of `rules` from `from`, at most `limit` events, until `shutdown`: how many it
/// printed, and what.
async fn dry(
    connection: &Connection,
    rules: &Rules,
    from: ReplayFrom,
    limit: Option<u64>,
    shutdown: impl Future<Output = ()>,
) -> (u64, String) {
    let mut out = Vec::new();
    let printed = tokio::time::timeout(
        WITHIN,
        dry_run(connection, rules, Some(from), limit, &mut out, shutdown),
    )
    .await
    .expect("the dry run ends in time")
    .unwrap();
    (printed, String::from_utf8(out).unwrap())
}

/// Short waits and backoff, so that a test takes seconds.
fn options(durable: &str) -> Options {
    let mut options = Options::new(durable);
    options.ack_wait = Duration::from_secs(2);
    options.max_backoff = Duration::from_millis(50);
    options
}

/// Appends the id to a file named for the identity, failing about one run in ten first.
const RECORD_FLAKY: &str = r#"
if [ "$(od -An -N1 -tu1 /dev/urandom)" -lt 26 ]; then echo "unlucky $1" >&2; exit 1; fi
printf '%s\n' "$2" >> "$OUT/$1"
"#;

/// An exec rule running `program` (`RECORD` or `RECORD_FLAKY`, retried without limit) for
/// `count` startups of `nodes` nodes: every event handled once, in order per node, and
/// every failure retried. Returns how many runs failed.
async fn handles_every_event_in_order(program: &str, count: usize, nodes: usize) -> u64 {
    let (_server, connection, setup) = world().await;
    let rules = record(&setup, program, "concurrency = 8\nmax_attempts = 0");
    let metrics = Metrics::default();
    let running = Running::start(&connection, &rules, options("order"), &metrics);
    wait_for_consumer(&connection, &consumer_name("order", "record")).await;
    let events = fleet(count, nodes);
    // Not for this rule: acknowledged without running anything.
    let shutdown = shutdown("node0.example.net");
    publish(&connection, &[vec![shutdown], events.clone()].concat()).await;
    wait_until("every event handled", || setup.handled(&events) == count).await;
    wait_settled(&connection, "order-record", &[]).await;
    assert_eq!(
        setup.assert_in_order(&events),
        0,
        "no repeats without a stop"
    );
    let rule = metrics.rule("record");
    assert_eq!(rule.matched(), count as u64);
    assert_eq!(rule.succeeded(), count as u64);
    assert_eq!(rule.dead_lettered(), 0);
    assert_eq!(rule.running(), 0);
    assert_eq!(rule.retried(), rule.failed(), "every failure retried");
    running.stop().await;
    rule.failed()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exec_rule_handles_every_event_of_every_node_in_order() {
    assert_eq!(handles_every_event_in_order(RECORD, 200, 10).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flaky_program_is_retried_until_every_event_is_handled_in_order() {
    let failed = handles_every_event_in_order(RECORD_FLAKY, 1000, 200).await;
    assert!(failed > 0, "some runs failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_at_once_sleeping_a_second_never_more_than_ten() {
    let (_server, connection, setup) = world().await;
    // Records its start and end times (nanoseconds) on one line.
    let rules = record(
        &setup,
        "start=$(date +%s%N)\nsleep 1\nprintf '%s %s %s\\n' \"$start\" \"$(date +%s%N)\" \"$1\" >> \"$OUT/runs\"",
        "concurrency = 10",
    );
    let running = Running::start(&connection, &rules, options("slow"), &Metrics::default());
    wait_for_consumer(&connection, "slow-record").await;
    let events = fleet(40, 40);
    let started = std::time::Instant::now();
    publish(&connection, &events).await;
    wait_until("40 runs", || setup.lines("runs").len() >= 40).await;
    let took = started.elapsed();
    // The most running at any one time: sweep the starts (+1) and ends (-1).
    let mut edges: Vec<(u128, i32)> = setup
        .lines("runs")
        .iter()
        .flat_map(|line| {
            let mut parts = line.split(' ').map(|t| t.parse::<u128>().unwrap());
            [(parts.next().unwrap(), 1), (parts.next().unwrap(), -1)]
        })
        .collect();
    edges.sort_unstable();
    let most = edges
        .iter()
        .scan(0, |now, (_, delta)| {
            *now += delta;
            Some(*now)
        })
        .max()
        .unwrap();
    assert!(most <= 10, "{most} ran at once");
    assert!(most >= 5, "they ran in parallel: at most {most} at once");
    // About 4 s (four rounds of ten) on a quiet machine; how long is the benchmarks' business.
    eprintln!("40 runs of 1 s, 10 at once: {took:?}, at most {most} at once");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_on_one_durable_name_share_the_events_each_handled_once() {
    let (_server, connection, setup) = world().await;
    let rules = record(&setup, RECORD_ALL, "concurrency = 5");
    let (one, two) = (Metrics::default(), Metrics::default());
    let first = Running::start(&connection, &rules, options("shared"), &one);
    wait_for_consumer(&connection, "shared-record").await;
    let second = Running::start(&connection, &rules, options("shared"), &two);
    // Both pulling before the events come.
    let stream = events_stream(&connection).await;
    within(WITHIN, "both runs pulling", async {
        while stream
            .consumer_info("shared-record")
            .await
            .unwrap()
            .num_waiting
            < 2
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let events = fleet(300, 30);
    publish(&connection, &events).await;
    wait_until("every event handled", || setup.handled(&events) == 300).await;
    wait_settled(&connection, "shared-record", &[]).await;
    let lines = setup.lines("all");
    assert_eq!(lines.len(), 300, "each handled once");
    assert_eq!(
        lines.iter().collect::<std::collections::HashSet<_>>().len(),
        300
    );
    let handled = (
        one.rule("record").succeeded(),
        two.rule("record").succeeded(),
    );
    assert_eq!(handled.0 + handled.1, 300);
    assert!(
        handled.0 > 0 && handled.1 > 0,
        "both handled some: {handled:?}"
    );
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_full_of_shell_metacharacters_is_one_literal_argument() {
    let (_server, connection, setup) = world().await;
    let marker = setup.path("pwned");
    // Records each argument on its own line, then the environment the rule gave it.
    let script = setup.script(
        "show-args",
        "for a in \"$@\"; do printf '[%s]\\n' \"$a\" >> \"$OUT/args\"; done\nprintf '%s\\n' \"$LIFECYCLE_IDENTITY\" \"$LIFECYCLE_TYPE\" \"$LIFECYCLE_COMPONENT\" \"$LIFECYCLE_VERSION\" \"$LIFECYCLE_SUBJECT\" >> \"$OUT/env\"\ncat > \"$OUT/stdin\"",
    );
    let rules = rules(
        &setup,
        &format!(
            r#"
[[rules]]
name = "hostile"
filter = "startup"
exec = ["{}", "--node", "{{{{ identity }}}}", "{{{{ component }}}}-{{{{ version }}}}"]
"#,
            script.display()
        ),
    );
    let running = Running::start(&connection, &rules, options("hostile"), &Metrics::default());
    wait_for_consumer(&connection, "hostile-hostile").await;
    let identity = format!(
        "$(touch {m}); touch {m} `touch {m}` ; rm -rf {m} && echo \"'x'\" | sh",
        m = marker.display()
    );
    let event = startup(&identity);
    publish(&connection, std::slice::from_ref(&event)).await;
    wait_until("the program's output", || {
        setup.path("stdin").exists() && setup.lines("env").len() >= 5
    })
    .await;
    wait_settled(&connection, "hostile-hostile", &[]).await;
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
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stopped_and_started_again_no_event_is_lost_and_each_node_keeps_its_order() {
    let (_server, connection, setup) = world().await;
    let rules = record(&setup, RECORD_ALL, "concurrency = 5");
    let mut first_options = options("again");
    // Actions still running at the stop are abandoned at once: their events stay
    // unacknowledged, for the next run.
    first_options.grace = Duration::from_millis(1);
    let first = Running::start(&connection, &rules, first_options, &Metrics::default());
    wait_for_consumer(&connection, "again-record").await;
    let events = fleet(300, 20);
    publish(&connection, &events).await;
    wait_until("some events handled", || setup.lines("all").len() >= 40).await;
    first.stop().await;
    let at_stop = setup.lines("all").len();
    assert!(
        at_stop < events.len(),
        "the stop came too late to test anything"
    );

    let metrics = Metrics::default();
    let second = Running::start(&connection, &rules, options("again"), &metrics);
    wait_until("every event handled after the restart", || {
        setup.handled(&events) == events.len()
    })
    .await;
    wait_settled(&connection, "again-record", &[]).await;
    // Only actions running at the stop (at most the concurrency) can have run twice; the
    // second run waited for the events the first one held, so each node's order holds.
    let repeats = setup.assert_in_order(&events);
    assert!(repeats <= 5, "{repeats} repeats");
    let handled_again = metrics.rule("record").succeeded();
    assert_eq!(
        setup.lines("all").len() as u64,
        at_stop as u64 + handled_again,
        "every run recorded once"
    );
    assert!(
        handled_again >= (events.len() - at_stop) as u64,
        "the second run handled at least what the first left"
    );
    second.stop().await;
    eprintln!("{at_stop} handled before the stop, {repeats} repeated after it");
}

const DEAD: &str = "lifecycle.dead.react";

#[tokio::test(flavor = "multi_thread")]
async fn failing_programs_are_dead_lettered_and_the_others_go_on() {
    let (_server, connection, setup) = world().await;
    // node3 fails for a while (exit 3, retried); node4's events can never be handled (65).
    let rules = record(
        &setup,
        "case \"$1\" in\n\
         node3.example.net) echo \"cannot provision $1\" >&2; exit 3;;\n\
         node4.example.net) echo \"bad event for $1\" >&2; exit 65;;\n\
         esac\n\
         printf '%s\\n' \"$2\" >> \"$OUT/$1\"",
        &format!("concurrency = 4\nmax_attempts = 3\ndead_letter = \"{DEAD}\""),
    );
    let metrics = Metrics::default();
    let mut letters = connection.client().subscribe(DEAD).await.unwrap();
    connection.client().flush().await.unwrap();
    let running = Running::start(&connection, &rules, options("dead"), &metrics);
    wait_for_consumer(&connection, "dead-record").await;
    let events = fleet(60, 6);
    publish(&connection, &events).await;
    let failing =
        |identity: &str| identity == "node3.example.net" || identity == "node4.example.net";
    let (bad, good): (Vec<Event>, Vec<Event>) =
        events.iter().cloned().partition(|e| failing(e.identity()));
    wait_until("the others handled", || setup.handled(&good) == good.len()).await;

    // (identity, attempts, reason) of each dead letter, by event id.
    let mut dead: HashMap<String, Vec<String>> = HashMap::new();
    for _ in 0..bad.len() {
        let letter = tokio::time::timeout(WITHIN, letters.next())
            .await
            .expect("a dead letter in time")
            .unwrap();
        let headers = letter.headers.clone().unwrap();
        let header = |name: &str| headers.get(name).unwrap().as_str().to_owned();
        let event = Event::from_json(&letter.payload).unwrap();
        assert_eq!(
            header("Lifecycle-Event-Id"),
            event.id(),
            "the event as published"
        );
        assert_eq!(header("Lifecycle-Dead-Letter-Consumer"), "dead-record");
        assert_eq!(
            header("Lifecycle-Dead-Letter-Handler"),
            "rule record (exec)"
        );
        let (attempts, ending) = match event.identity() {
            "node3.example.net" => (
                "3",
                "exited with status 3; stderr: cannot provision node3.example.net",
            ),
            "node4.example.net" => (
                "1",
                "exited with status 65; stderr: bad event for node4.example.net",
            ),
            other => panic!("{other} was dead-lettered"),
        };
        assert_eq!(header("Lifecycle-Dead-Letter-Attempts"), attempts);
        let reason = header("Lifecycle-Dead-Letter-Reason");
        assert!(reason.ends_with(ending), "{reason}");
        dead.entry(event.identity().to_owned())
            .or_default()
            .push(event.id().to_owned());
    }
    assert_eq!(
        dead,
        by_identity(&bad),
        "each of them once, in order per node"
    );
    wait_settled(&connection, "dead-record", &[]).await;
    assert_eq!(setup.assert_in_order(&good), 0);
    assert!(setup.lines("node3.example.net").is_empty());
    assert!(setup.lines("node4.example.net").is_empty());
    let rule = metrics.rule("record");
    assert_eq!(rule.matched(), 60);
    assert_eq!(rule.succeeded(), 40);
    assert_eq!(rule.dead_lettered(), 20);
    // node3: 3 failures and 2 retries each; node4: 1 failure, never retried.
    assert_eq!(rule.failed(), 30 + 10);
    assert_eq!(rule.retried(), 20);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), letters.next())
            .await
            .is_err(),
        "no more dead letters"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_prints_what_would_run_and_acknowledges_nothing() {
    let (_server, connection, setup) = world().await;
    let script = setup.script("record", RECORD);
    let rules = rules(
        &setup,
        &format!(
            r#"{}
[[rules]]
name = "notify-cd"
filter = "upgraded"
http = {{ url = "https://cd.example.net/hooks/choria?key=s3cret", mode = "structured" }}
"#,
            Scripts::record_rule(&script, "startup,component=provision_mode_server", "")
        ),
    );
    // The exec rule alone (the other would post to the internet) has its durable consumer
    // before the events come: it starts with what is new.
    let record = Rules {
        path: rules.path.clone(),
        rules: vec![rules.rules[0].clone()],
    };
    let running = Running::start(&connection, &record, options("react"), &Metrics::default());
    wait_for_consumer(&connection, "react-record").await;
    running.stop().await;
    let provisioning = event(
        EventType::Startup,
        "new1.example.net",
        "provision_mode_server",
        "0.29.4",
    );
    let upgraded = upgraded("web1.example.net", "0.29.3", "0.29.4");
    let events = [
        startup("ignored.example.net"),
        provisioning.clone(),
        upgraded.clone(),
    ];
    publish(&connection, &events).await;
    let (printed, out) = dry(
        &connection,
        &rules,
        ReplayFrom::Start,
        Some(2),
        std::future::pending(),
    )
    .await;
    assert_eq!(printed, 2);
    assert_eq!(
        out,
        format!(
            "record: exec [\"{}\",\"new1.example.net\",\"{}\"] <- {provisioning}\n\
             notify-cd: POST https://cd.example.net/hooks/choria?key=*** (structured mode) id {} <- {upgraded}\n",
            script.display(),
            provisioning.id(),
            upgraded.id()
        )
    );
    // Nothing ran; the rule's consumer was given nothing, and no other durable consumer
    // was made: the replay was ephemeral.
    assert!(!setup.path("new1.example.net").exists());
    let stream = events_stream(&connection).await;
    let consumers: Vec<_> = stream.consumers().map(|info| info.unwrap()).collect().await;
    let durable: Vec<_> = consumers
        .iter()
        .filter_map(|info| info.config.durable_name.clone())
        .collect();
    assert_eq!(durable, ["react-record"]);
    let info = stream.consumer_info("react-record").await.unwrap();
    assert_eq!(
        (
            info.delivered.stream_sequence,
            info.ack_floor.stream_sequence
        ),
        (0, 0),
        "{info:?}"
    );

    // Ended by its shutdown, before any limit: what it printed so far. Two seconds from
    // its first poll, once the replay is open: time enough for the one stored event it
    // passes.
    let (printed, out) = dry(&connection, &rules, ReplayFrom::Sequence(3), None, async {
        tokio::time::sleep(Duration::from_secs(2)).await
    })
    .await;
    assert_eq!(printed, 1);
    assert!(
        out.starts_with("notify-cd: POST "),
        "only the upgraded event, the third stored"
    );
    // The rule's consumer still has the event for it: the dry runs took nothing.
    let metrics = Metrics::default();
    let running = Running::start(&connection, &record, options("react"), &metrics);
    wait_until("the provisioning event handled", || {
        setup.lines("new1.example.net") == [provisioning.id()]
    })
    .await;
    wait_settled(&connection, "react-record", &[]).await;
    assert_eq!(metrics.rule("record").succeeded(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_rule_posts_every_event_to_a_cloudevents_receiver_in_order() {
    let (_server, connection, setup) = world().await;
    // Its first answers are 503s: retried, never lost, never repeated.
    let receiver = CloudEventsReceiver::start_failing(3);
    let rules = rules(
        &setup,
        &format!(
            "[[rules]]\nname = \"notify\"\nfilter = \"startup\"\nhttp = {{ url = \"{}\", mode = \"structured\" }}\nconcurrency = 3\nmax_attempts = 0\n",
            receiver.url()
        ),
    );
    let metrics = Metrics::default();
    let running = Running::start(&connection, &rules, options("post"), &metrics);
    wait_for_consumer(&connection, "post-notify").await;
    let events = fleet(30, 3);
    publish(&connection, &events).await;
    wait_until("every event posted", || receiver.received().len() >= 30).await;
    wait_settled(&connection, "post-notify", &[]).await;
    let received: Vec<Value> = receiver
        .received()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(received.len(), 30, "each once");
    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    for event in &received {
        assert_eq!(event["mode"], "structured");
        assert_eq!(event["type"], "io.choria.lifecycle.v1.startup");
        assert_eq!(event["source"], "io.choria.lifecycle");
        assert_eq!(event["data"]["component"], "server");
        let identity = event["subject"].as_str().unwrap().to_owned();
        assert_eq!(event["data"]["identity"], identity.as_str());
        got.entry(identity)
            .or_default()
            .push(event["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, by_identity(&events), "every event, in order per node");
    assert_eq!(receiver.refused().len(), 3);
    let rule = metrics.rule("notify");
    assert_eq!(rule.succeeded(), 30);
    assert_eq!(rule.failed(), 3);
    assert_eq!(rule.retried(), 3);
    assert_eq!(rule.dead_lettered(), 0);
    running.stop().await;
}
