//! Rollout gates: `lifecycle wait --until` on each node's latest state, OpenSVC's templates,
//! and `lifecycle nodes`, run as a user runs them against a real nats-server (and a real
//! `lifecycle tally`). Every child process is bounded in time and killed when dropped.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ROLLOUT_GATE, Running, Serving, run, wait_until};
use lifecycle_core::{Event, EventType};
use lifecycle_nats::EVENTS_STREAM;
use lifecycle_simulate::{FleetSpec, Simulation, Step, Upgrade};
use lifecycle_tally::ComponentCount;
use lifecycle_testsupport::{BlockingConnection, NatsServer};

const LIMIT: Duration = Duration::from_secs(30);

/// The time the rollback events say they happened: `2023-11-14 22:13:20 UTC`.
const ROLLED_BACK_AT: i64 = 1_700_000_000;

/// Publishes events to a server holding CHORIA_EVENTS, and waits until the stream holds
/// them all.
struct Fleet {
    nats: BlockingConnection,
    stored: u64,
}

impl Fleet {
    fn new(server: &NatsServer) -> Fleet {
        Fleet {
            nats: BlockingConnection::connect_with_events(server),
            stored: 0,
        }
    }

    /// A server holding CHORIA_EVENTS, and a fleet publishing to it.
    fn started() -> (NatsServer, Fleet) {
        let server = NatsServer::start();
        let fleet = Fleet::new(&server);
        (server, fleet)
    }

    fn publish(&mut self, events: &[Event]) {
        self.stored += events.len() as u64;
        self.nats.publish_stored(events, self.stored);
        let state = self
            .nats
            .block_on(self.nats.connection.stream_state(EVENTS_STREAM))
            .unwrap();
        assert_eq!(
            state.map_or(0, |s| s.messages),
            self.stored,
            "the stream holds every event published"
        );
    }
}

/// Everything the simulation sends: its startup storm at once, then what follows until
/// `until` after the storm.
fn drain(simulation: &mut Simulation, until: Duration) -> Vec<Event> {
    let mut events = Vec::new();
    for now in [Duration::ZERO, until] {
        while let Step::Send(event) = simulation.next(now) {
            events.push(event);
        }
    }
    events
}

/// `server` on `identity` moving from `from` to `to`, at [`ROLLED_BACK_AT`].
fn upgraded(identity: &str, from: &str, to: &str) -> Event {
    Event::builder(EventType::Upgraded)
        .identity(identity)
        .component("server")
        .version(from)
        .new_version(to)
        .timestamp(ROLLED_BACK_AT)
        .build()
        .unwrap()
}

/// An alive of `server` on `identity` at [`ROLLED_BACK_AT`].
fn alive(identity: &str, version: &str) -> Event {
    alive_at(identity, version, ROLLED_BACK_AT)
}

fn alive_at(identity: &str, version: &str, timestamp: i64) -> Event {
    Event::builder(EventType::Alive)
        .identity(identity)
        .component("server")
        .version(version)
        .timestamp(timestamp)
        .build()
        .unwrap()
}

/// 100 simulated servers upgraded to 0.30.0, then 3 of them rolled back to 0.29.4; returns
/// the fleet and the 3.
fn rolled_out_but_three(server: &NatsServer) -> (Fleet, [String; 3]) {
    let mut fleet = Fleet::new(server);
    let mut simulation = Simulation::new(FleetSpec {
        nodes: 100,
        upgrade: Some(Upgrade {
            to: "0.30.0".into(),
            per_second: 1000.0,
        }),
        alive_interval: Duration::from_secs(3600),
        ..Default::default()
    })
    .unwrap();
    let events = drain(&mut simulation, Duration::from_secs(1));
    assert_eq!(simulation.to_upgrade(), 0);
    assert_eq!(events.len(), 200, "100 startups and 100 upgrades");
    fleet.publish(&events);
    let behind = [7, 42, 99].map(FleetSpec::identity);
    let rollbacks: Vec<Event> = behind
        .iter()
        .map(|identity| upgraded(identity, "0.30.0", "0.29.4"))
        .collect();
    fleet.publish(&rollbacks);
    (fleet, behind)
}

/// The rollout gate over every node a replay of the last ten minutes shows.
fn until_all() -> Vec<&'static str> {
    [&ROLLOUT_GATE[..], &["--all", "--since", "10m"]].concat()
}

#[test]
fn wait_until_all_lists_the_three_rolled_back_and_succeeds_once_they_upgrade() {
    let server = NatsServer::start();
    let (mut fleet, behind) = rolled_out_but_three(&server);

    // Times out, listing exactly those three with their version and when last seen.
    let mut args = until_all();
    args.extend(["--timeout", "10s"]);
    let out = run(&server, &args);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "lifecycle: condition not met: 97/100 nodes pass\n"
    );
    let row =
        |identity: &str| format!("{identity}  server     0.29.4   2023-11-14 22:13:20 UTC  up\n");
    assert_eq!(
        out.stdout,
        format!(
            "IDENTITY                    COMPONENT  VERSION  LAST SEEN                STATE\n{}{}{}",
            row(&behind[0]),
            row(&behind[1]),
            row(&behind[2])
        )
    );

    // The same for machines.
    args.push("--json");
    let out = run(&server, &args);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let listed: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected: Vec<serde_json::Value> = behind
        .iter()
        .map(|identity| {
            serde_json::json!({
                "identity": identity,
                "component": "server",
                "version": "0.29.4",
                "last_seen": ROLLED_BACK_AT,
                "state": "up",
            })
        })
        .collect();
    assert_eq!(listed, expected);

    // Running while any is behind; done once the last one upgrades again.
    let mut args = until_all();
    args.extend(["--timeout", "120s"]);
    let mut wait = Running::subscribed(&server, &args);
    // Caught up with the replay: the state now, three behind.
    wait.logged("state=97/100 nodes pass");
    assert!(wait.still_running(), "wait ended with 3 nodes rolled back");
    fleet.publish(&[
        upgraded(&behind[0], "0.29.4", "0.30.0"),
        alive(&behind[1], "0.30.1"),
    ]);
    wait.logged("state=99/100 nodes pass");
    assert!(wait.still_running(), "wait ended with 1 node rolled back");
    fleet.publish(&[upgraded(&behind[2], "0.29.4", "0.30.0")]);
    let out = wait.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "");

    // And a wait started now succeeds from the replay alone.
    let mut args = until_all();
    args.extend(["--timeout", "120s"]);
    let out = run(&server, &args);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn a_fraction_of_the_fleet_or_a_count_passes_with_three_behind() {
    let server = NatsServer::start();
    let (_fleet, _) = rolled_out_but_three(&server);
    let gate = |extra: &[&str]| {
        let mut args = [&ROLLOUT_GATE[..], &["--since", "10m"]].concat();
        args.extend_from_slice(extra);
        run(&server, &args)
    };
    let out = gate(&["--fraction", "0.97", "--timeout", "120s"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let out = gate(&["--count", "97", "--timeout", "120s"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let out = gate(&["--fraction", "0.98", "--timeout", "10s"]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "lifecycle: condition not met: 97/100 nodes pass, 98 needed (0.98)\n"
    );
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);
    // More than there are nodes: never met.
    let out = gate(&["--count", "101", "--timeout", "10s"]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "lifecycle: condition not met: 97/101 nodes pass\n"
    );
}

/// OpenSVC's "object avail is up on 3 objects", as 3 nodes running 0.30.0: met once three
/// are, not while one has gone back.
#[test]
fn opensvc_three_up_template_waits_for_three_and_removes_one_that_goes_back() {
    let (server, mut fleet) = Fleet::started();
    let template = r#"{% if pass_set(identity, version == "0.30.0") %}{{ identity }} {{ pass_count() }}{% if set_success(pass_count() == 3) %}{% endif %}{% endif %}"#;
    let three_up = [
        "wait",
        "--filter",
        "alive,component=server",
        "--template",
        template,
    ];
    let mut wait = Running::subscribed(&server, &[&three_up[..], &["--timeout", "120s"]].concat());
    fleet.publish(&[
        alive("n1", "0.30.0"),
        alive("n2", "0.30.0"),
        alive("n3", "0.29.4"),
        // n2 goes back before n3 arrives: two pass, not three.
        alive("n2", "0.29.4"),
        alive("n3", "0.30.0"),
    ]);
    // Its line for the fifth event is printed once the fifth has been looked at.
    wait.printed("n3 2");
    assert!(wait.still_running(), "wait ended with two nodes up");
    fleet.publish(&[alive("n2", "0.30.0")]);
    let out = wait.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "n1 1\nn2 2\nn2 1\nn3 2\nn2 3\n");
    assert!(
        out.stderr.contains("wait succeeded after") && out.stderr.contains("passed: n1, n2, n3"),
        "{}",
        out.stderr
    );
    // Replayed, the fleet is in the state now: met at once.
    let since = ["--since", "10m", "--timeout", "120s"];
    let out = run(&server, &[&three_up[..], &since].concat());
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // Without set_success, it times out with 1.
    let out = run(
        &server,
        &[
            "wait",
            "--filter",
            "alive",
            "--template",
            "{{ pass_set(identity, true) }}",
            "--since",
            "10m",
            "--timeout",
            "10s",
        ],
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("condition not met: set_success was not given a true condition; 3 passed"),
        "{}",
        out.stderr
    );
}

/// Per component, the nodes up per version, from `lifecycle nodes --json` lines.
fn counts(json_lines: &str) -> Vec<ComponentCount> {
    let mut per: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for line in json_lines.lines() {
        let node: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(node["state"], "up");
        let component = node["component"].as_str().unwrap().to_owned();
        let version = node["version"].as_str().unwrap().to_owned();
        *per.entry(component)
            .or_default()
            .entry(version)
            .or_default() += 1;
    }
    ComponentCount::list(per)
}

#[test]
fn nodes_from_a_replay_agree_with_the_simulated_fleet() {
    let (server, mut fleet) = Fleet::started();
    let mut simulation = Simulation::new(FleetSpec {
        nodes: 300,
        components: vec!["server".into(), "broker".into()],
        versions: vec!["0.28.0:30".parse().unwrap(), "0.29.4:70".parse().unwrap()],
        alive_interval: Duration::from_secs(10),
        upgrade: Some(Upgrade {
            to: "0.30.0".into(),
            per_second: 40.0,
        }),
        restart_rate: 20.0,
        seed: 7,
    })
    .unwrap();
    // Restarts under way (shut down, not started again yet) and upgrades half done.
    let events = drain(&mut simulation, Duration::from_secs(3));
    fleet.publish(&events);
    let expected = ComponentCount::list(simulation.counts());
    assert!(expected.iter().any(|c| c.versions.contains_key("0.30.0")));
    assert!(simulation.up() < 600, "some components are restarting");

    let out = run(&server, &["nodes", "--since", "10m", "--json"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(counts(&out.stdout), expected);

    let server_behind: u64 = expected
        .iter()
        .filter(|c| c.component == "server")
        .flat_map(|c| c.versions.iter())
        .filter(|(version, _)| *version != "0.30.0")
        .map(|(_, n)| n)
        .sum();
    let nodes = |filter: &[&str]| {
        run(
            &server,
            &[&["nodes", "--since", "10m"][..], filter].concat(),
        )
    };
    let out = nodes(&["--filter", "component=server,.version<0.30.0", "--count"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{server_behind}\n"));

    // The table: a header, then a line per node, by identity then component.
    let out = nodes(&["--filter", "identity=node000001.*"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("IDENTITY "), "{}", out.stdout);
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with("node000001.sim.example.net  "))
    );
    assert!(lines.len() <= 3, "{}", out.stdout);

    // A tally of the same stream agrees: its API filters each node's state.
    let tally = Serving::tally(&server, &[]);
    tally.wait_ready(LIMIT);
    let url = format!("http://{}", tally.address);
    let out = run(&server, &["nodes", "--tally", &url, "--json"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(counts(&out.stdout), expected);
    let behind = "component=server,.version<0.30.0";
    let out = run(
        &server,
        &["nodes", "--tally", &url, "--filter", behind, "--count"],
    );
    assert_eq!(out.stdout, format!("{server_behind}\n"), "{}", out.stderr);
    let (status, page) = tally
        .get(&format!(
            "/api/v1/nodes?limit=10000&filter={}",
            behind.replace(',', "%2C").replace('<', "%3C")
        ))
        .unwrap();
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page.matches("\"identity\"").count() as u64,
        server_behind,
        "{page}"
    );

    let out = run(&server, &["nodes", "--state", "lost"]);
    assert_eq!(out.code(), Some(2));
    assert_eq!(
        out.stderr,
        "lifecycle: a replay knows no lost nodes: --state lost needs --tally\n"
    );
}

/// `lifecycle nodes --tally` and `wait --tally` against a running `lifecycle tally`.
#[test]
fn the_tally_client_lists_and_gates_on_a_running_tally() {
    let (server, mut fleet) = Fleet::started();
    let tally = Serving::tally(&server, &[]);
    wait_until("the tally is ready", LIMIT, || {
        tally
            .get("/healthz")
            .is_some_and(|(status, _)| status == 200)
    });
    let url = format!("http://{}", tally.address);
    // Seen now: the tally forgets nodes not seen for its --max-age.
    let now = lifecycle_core::clock::now();
    fleet.publish(&[
        alive_at("n1", "0.30.0", now),
        alive_at("n2", "0.29.4", now),
        alive_at("n3", "0.30.0", now),
    ]);
    wait_until("the tally knows the nodes", LIMIT, || {
        tally
            .get("/api/v1/nodes")
            .is_some_and(|(_, body)| body.matches("identity").count() == 3)
    });

    let out = run(&server, &["nodes", "--tally", &url, "--json"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut listed: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    listed.sort_by_key(|node| node["identity"].as_str().unwrap().to_owned());
    let node = |identity: &str, version: &str| {
        serde_json::json!({"identity": identity, "component": "server", "version": version,
            "last_seen": now, "state": "up"})
    };
    assert_eq!(
        listed,
        [
            node("n1", "0.30.0"),
            node("n2", "0.29.4"),
            node("n3", "0.30.0")
        ]
    );
    let out = run(&server, &["nodes", "--tally", &url, "--count"]);
    assert_eq!(out.stdout, "3\n", "{}", out.stderr);
    // The filter runs in the tally, over each node's state.
    let behind = [
        "nodes",
        "--tally",
        &url,
        "--filter",
        "component=server,.version<0.30.0",
        "--json",
    ];
    let out = run(&server, &behind);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.stdout.trim()).unwrap(),
        node("n2", "0.29.4")
    );

    // The fleet is the tally's; live events move it.
    let gate = [&ROLLOUT_GATE[..], &["--tally", &url]].concat();
    let mut args = gate.clone();
    args.extend(["--all", "--timeout", "10s", "--json"]);
    let out = run(&server, &args);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.stdout.trim()).unwrap(),
        node("n2", "0.29.4")
    );
    let mut args = gate.to_vec();
    args.extend(["--all", "--timeout", "120s"]);
    let mut wait = Running::subscribed(&server, &args);
    // The tally's nodes read: two of three pass.
    wait.logged("state=2/3 nodes pass");
    assert!(wait.still_running());
    fleet.publish(&[alive_at("n2", "0.30.0", now)]);
    let out = wait.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

/// A node stopped without a shutdown is lost after the tally's `--max-age`, listed by
/// `nodes --state lost`, and up again after its next alive; one that shut down is gone.
#[test]
fn a_node_gone_quiet_is_listed_lost_then_up_again_when_it_reports() {
    let (server, mut fleet) = Fleet::started();
    let tally = Serving::tally(&server, &["--max-age", "2s"]);
    // Ready: connected and caught up, so that every listing below is answered.
    tally.wait_ready(LIMIT);
    let url = format!("http://{}", tally.address);
    let shutdown = Event::builder(EventType::Shutdown)
        .identity("n2")
        .component("server")
        .timestamp(lifecycle_core::clock::now())
        .build()
        .unwrap();
    fleet.publish(&[
        alive_at("n1", "0.29.4", lifecycle_core::clock::now()),
        alive_at("n2", "0.29.4", lifecycle_core::clock::now()),
    ]);
    fleet.publish(&[shutdown]);
    let listed = |state: &str| {
        let out = run(&server, &["nodes", "--tally", &url, "--state", state]);
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        out.stdout
            .lines()
            .skip(1)
            .map(|line| line.split_whitespace().next().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    wait_until("n1 is lost", LIMIT, || listed("lost") == ["n1"]);
    assert!(listed("up").is_empty(), "n2 shut down: gone, not lost");

    fleet.publish(&[alive_at("n1", "0.30.0", lifecycle_core::clock::now())]);
    wait_until("n1 is up again", LIMIT, || listed("up") == ["n1"]);
    assert!(listed("lost").is_empty());
}

#[test]
fn tally_errors_name_the_url_without_its_password() {
    let server = NatsServer::start();
    let tally = Serving::tally(&server, &[]);
    wait_until("the tally is ready", LIMIT, || {
        tally
            .get("/healthz")
            .is_some_and(|(status, _)| status == 200)
    });
    let out = run(
        &server,
        &[
            "nodes",
            "--tally",
            &format!("http://{}/elsewhere", tally.address),
        ],
    );
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr.starts_with(&format!(
            "lifecycle: the tally at http://{}/elsewhere/api/v1/nodes answered HTTP 404",
            tally.address
        )),
        "{}",
        out.stderr
    );
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(
        &server,
        &[
            "nodes",
            "--tally",
            &format!("http://alice:s3cret@127.0.0.1:{port}"),
        ],
    );
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr.starts_with(&format!(
            "lifecycle: cannot reach the tally at http://***@127.0.0.1:{port}/api/v1/nodes: "
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
}

#[test]
fn usage_errors_exit_2_before_connecting() {
    let mut server = NatsServer::start();
    server.stop();
    for (args, error) in [
        (
            &[
                "wait",
                "--filter",
                "alive",
                "--until",
                ".version>=1",
                "--all",
            ][..],
            "lifecycle: --all and --fraction compare with the nodes known: give --since (the \
             nodes a replay shows) or --tally (the nodes a tally knows), or --count N\n",
        ),
        (
            &[
                "wait",
                "--filter",
                "alive",
                "--until",
                ".version>=1",
                "--fraction",
                "1.5",
            ][..],
            "invalid fraction '1.5' (expected a decimal above 0 and at most 1, e.g. 0.95)",
        ),
        (
            &[
                "wait",
                "--filter",
                "alive",
                "--until",
                ".version>=",
                "--count",
                "1",
            ][..],
            "expected a value after the operator at position 11",
        ),
        (
            &["wait", "--filter", "alive", "--all"][..],
            "the following required arguments were not provided",
        ),
        (
            &[
                "wait", "--filter", "alive", "--until", "alive", "--key", "host",
            ][..],
            "unknown key 'host' (expected identity, component or identity+component)",
        ),
        (
            &[
                "wait",
                "--filter",
                "alive",
                "--until",
                "alive",
                "--distinct",
                "identity",
            ][..],
            "cannot be used with",
        ),
        (
            &["wait", "--filter", "alive", "--template", "{% if %}"][..],
            "lifecycle: invalid --template: ",
        ),
        (
            &["nodes", "--tally", "ftp://tally"][..],
            "lifecycle: invalid tally URL: unknown scheme 'ftp' (expected http:// or https://)\n",
        ),
    ] {
        let out = run(&server, args);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(error), "{args:?}: {}", out.stderr);
    }
}
