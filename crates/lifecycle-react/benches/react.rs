//! Events per second through `react`'s rules and `forward`, end to end: a local nats-server
//! with JetStream, and real actions: an `exec` of `/bin/true`, and an HTTP receiver that
//! answers 200 after 10 ms. Each figure is compared with a baseline measured in the same
//! run, since the machine's load moves absolute rates by up to a factor of two.
//!
//! `cargo bench -p lifecycle-react --bench react`
//!
//! Each run publishes the events (startup events of 1,000 identities in turn, so that up to
//! 1,000 can run in parallel) and times from the first publish until the rule's `succeeded`
//! counter holds them all. Bench ids:
//!
//! - `bare-spawn/true/cN`: no NATS, no engine: a tokio::process loop spawning `/bin/true`
//!   with the same one argument as the rule below (an identity), N at once; the baseline of
//!   `exec`;
//! - `bare-spawn/true-no-args/cN`: the same without the argument;
//! - `handler/exec-true/cN`: that rule's exec handler alone (prepare, then attempt), N at
//!   once: no NATS, no engine; what process setup costs beyond a bare spawn;
//! - `handler/http-10ms/c100`: the same for the HTTP handler: what the receiver and the
//!   HTTP client alone allow on this machine;
//! - `react/exec-true/cN`: a rule `exec = ["/bin/true", "{{ identity }}"]`, concurrency N,
//!   on a fresh durable consumer (what `lifecycle react` runs);
//! - `react/http-10ms/cN`: a rule `http = { url = ... }`, concurrency N, durable: the same
//!   engine and handler as `forward --durable --concurrency N`; its limit is N events per
//!   10 ms;
//! - `react/dropped/c10`: a rule whose filter drops every event on the client (`identity=`
//!   is not pushed into the subject): how fast the engine acknowledges what it does not
//!   handle;
//! - `live/exec-true/c100`, `live/http-10ms/c100`: the same rule's handler on the engine's
//!   live path (`forward` without `--durable`: a core NATS subscription, nothing to
//!   acknowledge); the baseline of durable delivery;
//! - `forward-before/http-10ms`: the loop `forward --durable` ran before the engine: a
//!   durable consumer with one event in flight, each POSTed, then acknowledged, then the
//!   next.
//!
//! `cargo bench -p lifecycle-react --bench react -- exec-true/c10 --runs 15` runs only the
//! groups with an id containing `exec-true/c10`, 15 rounds instead of 5.
//!
//! Every id of a group runs once per round, in turn, for `RUNS` rounds, so that a change of
//! load hits an id and its baseline alike. Printed: each id's median and range, the CPU
//! time used per event (by this process, by the programs it ran, by nats-server), and the
//! ratios to baselines (median and range of the ratios of the rounds).

use std::process::Stdio;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use http_body_util::BodyExt;
use lifecycle_cloudevents::{Forwarder, Mode, to_cloudevent};
use lifecycle_core::EventType;
use lifecycle_deliver::{Engine, Handler, Metrics, RuleMetrics};
use lifecycle_nats::{Connection, Interest, Received};
use lifecycle_react::{Options, Rules, consumer_name, run, settings};
use lifecycle_testsupport::{events_stream, fleet, publish, started_with_events};

/// Waits until the durable consumer `name` exists.
async fn wait_for_consumer(connection: &Connection, name: &str) {
    lifecycle_testsupport::wait_for_consumer(connection, name, &[]).await;
}
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const RUNS: usize = 5;
const IDENTITIES: usize = 1000;

/// One bench id.
enum Case {
    /// `/bin/true` spawned by a bare tokio::process loop, this many at once; with one
    /// argument (an identity, as the rule passes) or none.
    Bare { concurrency: usize, argument: bool },
    /// The rule's handler alone (prepare, then attempt), this many at once: no NATS, no
    /// engine.
    Handler(String, usize),
    /// A rules file run durably by `lifecycle_react::run`.
    React(String),
    /// The same, whose filter drops every event on the client: timed until the consumer
    /// has every one acknowledged.
    Dropped(String),
    /// The same rule's handler on the engine's live path.
    Live(String),
    /// The loop `forward --durable` ran before the engine.
    Before,
}

/// What a bench id is compared with.
enum Against {
    /// Another id of the same group, measured in the same rounds.
    Id(&'static str),
    /// A rate it cannot exceed, in events per second.
    Limit(f64),
    /// The rate this concurrency allows given how long the receiver held each request in
    /// the same run (the mean): the true limit of an HTTP id.
    Held(f64),
}

/// Bench ids run round by round together, each with `events` per run.
struct Group {
    events: usize,
    cases: Vec<(&'static str, Case)>,
}

struct Bench {
    connection: Connection,
    receiver: Receiver,
    smoke: bool,
}

// Two workers, as `lifecycle react` and `lifecycle forward` run.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs this with --test: one small run is enough there.
    // `--runs N`: N rounds instead of RUNS; other arguments pick the groups with an id
    // containing one of them.
    let mut smoke = false;
    let mut runs = RUNS;
    let mut picked = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--test" => smoke = true,
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            other if other.starts_with("--") => {}
            _ => picked.push(arg),
        }
    }
    if smoke {
        runs = 1;
    }
    let (_server, connection) = started_with_events().await;
    let bench = Bench {
        receiver: Receiver::start().await,
        connection,
        smoke,
    };
    let exec = |c: usize| {
        format!(
            "[[rules]]\nname = \"true\"\nfilter = \"startup\"\nexec = [\"/bin/true\", \"{{{{ identity }}}}\"]\nconcurrency = {c}\n"
        )
    };
    let http = |c: usize| {
        format!(
            "[[rules]]\nname = \"http\"\nfilter = \"startup\"\nhttp = {{ url = \"{}\" }}\nconcurrency = {c}\n",
            bench.receiver.url
        )
    };
    // The type goes into the consumer's subject, the identity is checked by the engine.
    let dropped = "[[rules]]\nname = \"none\"\nfilter = \"startup,identity=nomatch*\"\nexec = [\"/bin/true\"]\nconcurrency = 10\n".to_owned();
    let bare = |concurrency: usize, argument: bool| Case::Bare {
        concurrency,
        argument,
    };
    let groups = [
        Group {
            events: 300,
            cases: vec![
                ("bare-spawn/true/c1", bare(1, true)),
                ("bare-spawn/true-no-args/c1", bare(1, false)),
                ("react/exec-true/c1", Case::React(exec(1))),
            ],
        },
        Group {
            events: 2000,
            cases: vec![
                ("bare-spawn/true/c10", bare(10, true)),
                ("bare-spawn/true-no-args/c10", bare(10, false)),
                ("handler/exec-true/c10", Case::Handler(exec(10), 10)),
                ("react/exec-true/c10", Case::React(exec(10))),
            ],
        },
        Group {
            events: 4000,
            cases: vec![
                ("bare-spawn/true/c100", bare(100, true)),
                ("bare-spawn/true-no-args/c100", bare(100, false)),
                ("handler/exec-true/c100", Case::Handler(exec(100), 100)),
                ("live/exec-true/c100", Case::Live(exec(100))),
                ("react/exec-true/c100", Case::React(exec(100))),
            ],
        },
        Group {
            events: 5000,
            cases: vec![("react/dropped/c10", Case::Dropped(dropped))],
        },
        Group {
            events: 200,
            cases: vec![("react/http-10ms/c1", Case::React(http(1)))],
        },
        Group {
            events: 1500,
            cases: vec![("react/http-10ms/c10", Case::React(http(10)))],
        },
        Group {
            events: 6000,
            cases: vec![
                ("handler/http-10ms/c100", Case::Handler(http(100), 100)),
                ("live/http-10ms/c100", Case::Live(http(100))),
                ("react/http-10ms/c100", Case::React(http(100))),
            ],
        },
        Group {
            events: 200,
            cases: vec![("forward-before/http-10ms", Case::Before)],
        },
    ];
    let comparisons = [
        ("react/exec-true/c1", Against::Id("bare-spawn/true/c1")),
        (
            "react/exec-true/c1",
            Against::Id("bare-spawn/true-no-args/c1"),
        ),
        ("handler/exec-true/c10", Against::Id("bare-spawn/true/c10")),
        ("react/exec-true/c10", Against::Id("bare-spawn/true/c10")),
        (
            "react/exec-true/c10",
            Against::Id("bare-spawn/true-no-args/c10"),
        ),
        (
            "handler/exec-true/c100",
            Against::Id("bare-spawn/true/c100"),
        ),
        ("live/exec-true/c100", Against::Id("bare-spawn/true/c100")),
        ("react/exec-true/c100", Against::Id("bare-spawn/true/c100")),
        (
            "react/exec-true/c100",
            Against::Id("bare-spawn/true-no-args/c100"),
        ),
        ("react/exec-true/c100", Against::Id("live/exec-true/c100")),
        ("react/http-10ms/c1", Against::Limit(100.0)),
        ("react/http-10ms/c10", Against::Limit(1000.0)),
        ("handler/http-10ms/c100", Against::Limit(10_000.0)),
        ("handler/http-10ms/c100", Against::Held(100.0)),
        ("live/http-10ms/c100", Against::Limit(10_000.0)),
        ("live/http-10ms/c100", Against::Held(100.0)),
        ("react/http-10ms/c100", Against::Limit(10_000.0)),
        ("react/http-10ms/c100", Against::Held(100.0)),
        ("react/http-10ms/c100", Against::Id("live/http-10ms/c100")),
        ("forward-before/http-10ms", Against::Limit(100.0)),
    ];

    let server_pid = nats_server_pid();
    let mut rates: Vec<(&str, usize, Vec<f64>)> = Vec::new();
    let mut used: Vec<(&str, Cpu)> = Vec::new();
    // Per HTTP id, the mean time the receiver held a request, in seconds, run by run.
    let mut held: Vec<(&str, Vec<f64>)> = Vec::new();
    for group in &groups {
        let wanted =
            |(id, _): &(&str, Case)| picked.iter().any(|p: &String| id.contains(p.as_str()));
        if !picked.is_empty() && !group.cases.iter().any(wanted) {
            continue;
        }
        let count = if smoke { 20 } else { group.events };
        let mut measured = vec![(Vec::new(), Vec::new(), Vec::new()); group.cases.len()];
        for n in 0..runs {
            for ((id, case), (rates, used, holds)) in group.cases.iter().zip(&mut measured) {
                bench.receiver.held();
                let before = Cpu::now(server_pid);
                let rate = bench.measure(id, case, count, n).await;
                let cpu = Cpu::now(server_pid).since(before, count);
                let hold = bench.receiver.held();
                let shown = hold.map_or(String::new(), |h| {
                    format!(", receiver held {:.2} ms", h.as_secs_f64() * 1e3)
                });
                eprintln!("{id} run {n}: {count} events, {rate:.0}/s, CPU per event {cpu}{shown}");
                rates.push(rate);
                used.push(cpu);
                holds.extend(hold.map(|h| h.as_secs_f64()));
            }
        }
        for ((id, _), (all, cpu, holds)) in group.cases.iter().zip(measured) {
            rates.push((id, count, all));
            used.push((id, Cpu::median(cpu)));
            if !holds.is_empty() {
                held.push((id, holds));
            }
        }
    }

    println!(
        "\n{:<30} {:>7} {:>10} {:>16}",
        "bench id", "events", "median/s", "range/s"
    );
    for (id, count, all) in &rates {
        let (median, low, high) = summary(all.clone());
        println!(
            "{id:<30} {count:>7} {median:>10.0} {:>16}",
            format!("{low:.0} - {high:.0}")
        );
    }
    println!(
        "\n{:<30} CPU per event, median: all (this process; programs; nats-server)",
        "bench id"
    );
    for (id, cpu) in used {
        println!("{id:<30} {cpu}");
    }
    println!(
        "\n{:<30} receiver's hold per request (10 ms asked): median of the runs' means (range)",
        "bench id"
    );
    for (id, holds) in &held {
        let (median, low, high) = summary(holds.clone());
        println!(
            "{id:<30} {:.3} ms ({:.3} - {:.3})",
            median * 1e3,
            low * 1e3,
            high * 1e3
        );
    }
    println!(
        "\n{:<30} {:<30} {:>6} {:>14}",
        "bench id", "against (same rounds)", "ratio", "range"
    );
    let of = |id: &str| rates.iter().find(|(i, ..)| *i == id).map(|(.., all)| all);
    for (id, against) in comparisons {
        let Some(all) = of(id) else { continue };
        let (name, baseline) = match against {
            Against::Id(base) => match of(base) {
                Some(baseline) => (base.to_owned(), baseline.clone()),
                None => continue,
            },
            Against::Limit(limit) => (format!("limit {limit:.0}/s"), vec![limit; all.len()]),
            Against::Held(concurrency) => match held.iter().find(|(i, _)| *i == id) {
                Some((_, holds)) if holds.len() == all.len() => (
                    format!("limit {concurrency:.0} / receiver's hold"),
                    holds.iter().map(|h| concurrency / h).collect(),
                ),
                _ => continue,
            },
        };
        let (median, low, high) = summary(ratios(all, &baseline));
        println!(
            "{id:<30} {name:<30} {:>5.0}% {:>14}",
            median * 100.0,
            format!("{:.0}% - {:.0}%", low * 100.0, high * 100.0)
        );
    }
}

/// Round by round, `rates` over `baseline`.
fn ratios(rates: &[f64], baseline: &[f64]) -> Vec<f64> {
    rates.iter().zip(baseline).map(|(r, b)| r / b).collect()
}

impl Bench {
    /// Events per second of one run of `case`, the `n`th.
    async fn measure(&self, id: &str, case: &Case, count: usize, n: usize) -> f64 {
        let rate = match case {
            Case::Bare {
                concurrency,
                argument,
            } => bare_spawn(*concurrency, *argument, count).await,
            Case::Handler(rules, concurrency) => handler_only(rules, *concurrency, count).await,
            Case::React(rules) => self.react(id, rules, count, n).await,
            Case::Dropped(rules) => self.dropped(id, rules, count, n).await,
            Case::Live(rules) => self.live(rules, count).await,
            Case::Before => self.before(count, n).await,
        };
        if self.smoke {
            assert!(rate > 0.0, "{id}");
        }
        rate
    }

    /// A rule run by `lifecycle_react::run` on a fresh durable consumer.
    async fn react(&self, id: &str, rules: &str, count: usize, n: usize) -> f64 {
        let rules = Rules::parse(rules, std::path::Path::new("bench.toml")).unwrap();
        let rule = rules.rules[0].name.clone();
        let durable = format!("{}-{n}", id.replace(['/', '-'], "_"));
        let metrics = Metrics::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = Options::new(durable.clone());
        let running = {
            let (connection, metrics) = (self.connection.clone(), metrics.clone());
            tokio::spawn(async move {
                run(&connection, &rules, &options, &metrics, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            })
        };
        wait_for_consumer(&self.connection, &consumer_name(&durable, &rule)).await;
        let rate = timed(&self.connection, &metrics.rule(&rule), 0, count).await;
        let _ = stop.send(());
        running.await.unwrap();
        delete_consumer(&self.connection, &consumer_name(&durable, &rule)).await;
        rate
    }

    /// A rule whose filter drops every event, run on a fresh durable consumer: timed
    /// until the server has every event acknowledged.
    async fn dropped(&self, id: &str, rules: &str, count: usize, n: usize) -> f64 {
        let rules = Rules::parse(rules, std::path::Path::new("bench.toml")).unwrap();
        let durable = format!("{}-{n}", id.replace(['/', '-'], "_"));
        let consumer = consumer_name(&durable, &rules.rules[0].name);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = {
            let connection = self.connection.clone();
            let options = Options::new(durable);
            tokio::spawn(async move {
                run(&connection, &rules, &options, &Metrics::default(), async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            })
        };
        wait_for_consumer(&self.connection, &consumer).await;
        let js = async_nats::jetstream::new(self.connection.client().clone());
        let stream = js.get_stream("CHORIA_EVENTS").await.unwrap();
        let sent = fleet(count, IDENTITIES);
        let start = Instant::now();
        publish(&self.connection, &sent).await;
        loop {
            let info = stream.consumer_info(&consumer).await.unwrap();
            if info.delivered.consumer_sequence >= count as u64
                && info.num_pending == 0
                && info.num_ack_pending == 0
            {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(300), "{id}: too slow");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        let _ = stop.send(());
        running.await.unwrap();
        delete_consumer(&self.connection, &consumer).await;
        rate
    }

    /// The rule's handler on the engine's live path, as `forward` without `--durable`.
    async fn live(&self, rules: &str, count: usize) -> f64 {
        let rules = Rules::parse(rules, std::path::Path::new("bench.toml")).unwrap();
        let rule = &rules.rules[0];
        let settings = settings(
            &self.connection,
            rule,
            Duration::from_secs(10),
            Duration::ZERO,
        )
        .unwrap();
        let engine = Engine::new(rule.action.clone(), settings);
        let metrics = engine.metrics().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = {
            let connection = self.connection.clone();
            tokio::spawn(async move {
                engine
                    .run_live(&connection, async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            })
        };
        // Nothing says when the subscription is in place: probe events until one is
        // handled, then give the others a moment to be handled (or to have been missed).
        while metrics.succeeded() == 0 {
            publish(&self.connection, &fleet(1, IDENTITIES)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let probes = metrics.succeeded();
        let dropped = self.connection.dropped();
        let rate = timed(&self.connection, &metrics, probes, count).await;
        assert_eq!(self.connection.dropped(), dropped, "live events dropped");
        let _ = stop.send(());
        running.await.unwrap();
        rate
    }

    /// The loop `forward --durable` ran before the engine: one event in flight, POSTed,
    /// then acknowledged (waiting for the server), then the next.
    async fn before(&self, count: usize, n: usize) -> f64 {
        let forwarder = Forwarder::new(&self.receiver.url, Mode::Binary).unwrap();
        let interest = Interest::default().types([EventType::Startup]);
        let mut durable = self
            .connection
            .durable(&format!("before_{n}"), &interest, Duration::from_secs(30))
            .await
            .unwrap();
        let sent = fleet(count, IDENTITIES);
        let start = Instant::now();
        publish(&self.connection, &sent).await;
        for _ in 0..count {
            let delivery = durable.next().await.unwrap().unwrap();
            forwarder
                .attempt(to_cloudevent(delivery.event()).unwrap())
                .await
                .unwrap();
            delivery.ack().await.unwrap();
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        delete_consumer(&self.connection, &format!("before_{n}")).await;
        rate
    }
}

/// `/bin/true` spawned `count` times, `concurrency` at once, by tokio::process alone; with
/// an identity as its one argument, as the rule runs it, or with none. (GNU true sets up
/// its locale when it has exactly one argument, to look for --help and --version: that
/// alone costs it about a quarter of a millisecond.)
async fn bare_spawn(concurrency: usize, argument: bool, count: usize) -> f64 {
    let start = Instant::now();
    let mut running = JoinSet::new();
    for n in 0..count {
        if running.len() >= concurrency {
            running.join_next().await.unwrap().unwrap();
        }
        let identity = format!("node{}.example.net", n % IDENTITIES);
        running.spawn(async move {
            let mut command = tokio::process::Command::new("/bin/true");
            if argument {
                command.arg(identity);
            }
            let status = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .unwrap();
            assert!(status.success());
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// A rule's handler alone: each event prepared and attempted, `concurrency` at once.
async fn handler_only(rules: &str, concurrency: usize, count: usize) -> f64 {
    let rules = Rules::parse(rules, std::path::Path::new("bench.toml")).unwrap();
    let action = std::sync::Arc::new(rules.rules[0].action.clone());
    let received: Vec<Received> = fleet(count, IDENTITIES)
        .iter()
        .map(lifecycle_testsupport::received)
        .collect();
    let start = Instant::now();
    let mut running = JoinSet::new();
    for received in received {
        if running.len() >= concurrency {
            running.join_next().await.unwrap().unwrap();
        }
        let action = action.clone();
        running.spawn(async move {
            let prepared = action.prepare(&received).unwrap();
            action.attempt(&prepared, 1).await.unwrap();
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Publishes `count` events and waits until `metrics` counted them succeeded (on top of
/// `before`): events per second from the first publish.
async fn timed(connection: &Connection, metrics: &RuleMetrics, before: u64, count: usize) -> f64 {
    let sent = fleet(count, IDENTITIES);
    let start = Instant::now();
    publish(connection, &sent).await;
    let target = before + count as u64;
    while metrics.succeeded() < target {
        assert!(start.elapsed() < Duration::from_secs(300), "too slow");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// The HTTP receiver: test equipment standing for a webhook that takes 10 ms. A plain hyper
/// HTTP/1.1 service (no router, no limits: it serves this bench alone) that reads each
/// request and answers 200 with an empty body 10 ms after the request's head arrived.
///
/// The 10 ms are kept by a thread of its own, not by tokio's timer: that timer counts whole
/// milliseconds and rounds each deadline up, then parks the runtime for whole milliseconds
/// too, so that `tokio::time::sleep(10 ms)` takes 11.1 ms on average here (11 % slower than
/// the 10 ms the limit of 10,000/s at concurrency 100 is reckoned from), and wakes the
/// requests of each millisecond at once. The thread sleeps with the kernel's precision:
/// every request waits the same 10 ms, so the deadlines come in order and a queue holds
/// them. What each request was held is measured and printed, with the limit it sets.
struct Receiver {
    url: String,
    held: Arc<Held>,
}

/// How long the receiver held the requests answered since the last [`Receiver::held`].
#[derive(Default)]
struct Held {
    nanos: AtomicU64,
    requests: AtomicU64,
}

const RECEIVER_DELAY: Duration = Duration::from_millis(10);

impl Receiver {
    async fn start() -> Receiver {
        let (wake, deadlines) = std::sync::mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            for (deadline, done) in deadlines {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                let _ = done.send(());
            }
        });
        let held = Arc::new(Held::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let answer = {
            let held = held.clone();
            move |request: hyper::Request<hyper::body::Incoming>| {
                let (wake, held) = (wake.clone(), held.clone());
                async move {
                    let arrived = Instant::now();
                    let (done, woken) = oneshot::channel();
                    wake.send((arrived + RECEIVER_DELAY, done)).unwrap();
                    request.into_body().collect().await?;
                    woken.await.unwrap();
                    let nanos = u64::try_from(arrived.elapsed().as_nanos()).unwrap();
                    held.nanos.fetch_add(nanos, Ordering::Relaxed);
                    held.requests.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, hyper::Error>(hyper::Response::new(String::new()))
                }
            }
        };
        // A thread and a runtime of its own, as a receiver in another process would have:
        // its requests do not queue among the tasks of the rule under test.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let service = hyper::service::service_fn(answer.clone());
                    tokio::spawn(
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                    );
                }
            })
        });
        Receiver { url, held }
    }

    /// The mean time a request was held since the last call, if any was answered.
    fn held(&self) -> Option<Duration> {
        let nanos = self.held.nanos.swap(0, Ordering::Relaxed);
        let requests = self.held.requests.swap(0, Ordering::Relaxed);
        (requests > 0).then(|| Duration::from_nanos(nanos / requests))
    }
}

/// CPU time used, in microseconds (per event once divided): by this process (engine,
/// handlers, publisher, HTTP receiver), by the programs it ran and waited for, and by
/// nats-server. Where the time goes, and whether a case is bound by CPU.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    own: f64,
    programs: f64,
    server: f64,
}

impl Cpu {
    fn now(server: u32) -> Cpu {
        // /proc counts in USER_HZ, 100 per second on Linux.
        let tick = 10_000.0;
        let own = stat_fields("self");
        let server = stat_fields(&server.to_string());
        Cpu {
            own: (own[11] + own[12]) as f64 * tick,
            programs: (own[13] + own[14]) as f64 * tick,
            server: (server[11] + server[12]) as f64 * tick,
        }
    }

    fn since(self, before: Cpu, events: usize) -> Cpu {
        let per = |now: f64, then: f64| (now - then) / events as f64;
        Cpu {
            own: per(self.own, before.own),
            programs: per(self.programs, before.programs),
            server: per(self.server, before.server),
        }
    }

    fn median(mut all: Vec<Cpu>) -> Cpu {
        all.sort_by(|a, b| {
            (a.own + a.programs + a.server).total_cmp(&(b.own + b.programs + b.server))
        });
        all.get(all.len() / 2).copied().unwrap_or_default()
    }
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} µs ({:.0}; {:.0}; {:.0})",
            self.own + self.programs + self.server,
            self.own,
            self.programs,
            self.server
        )
    }
}

/// The numeric fields of /proc/PID/stat after the command name, from the state on
/// (so utime is [11], stime [12], cutime [13], cstime [14]).
fn stat_fields(pid: &str) -> Vec<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').map(|f| f.parse().unwrap_or(0)).collect()
}

/// The nats-server this process started.
fn nats_server_pid() -> u32 {
    let me = u64::from(std::process::id());
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            stat.contains("(nats-server)") && stat_fields(&pid.to_string()).get(1) == Some(&me)
        })
        .expect("the nats-server of this bench")
}

/// A run's consumer goes once it is done: the server would otherwise keep every earlier
/// run's consumer up to date with each event published in later runs.
async fn delete_consumer(connection: &Connection, name: &str) {
    let stream = events_stream(connection).await;
    stream.delete_consumer(name).await.unwrap();
}

/// Median, lowest and highest.
fn summary(mut rates: Vec<f64>) -> (f64, f64, f64) {
    rates.sort_by(f64::total_cmp);
    let median = rates.get(rates.len() / 2).copied().unwrap_or_default();
    let low = rates.first().copied().unwrap_or_default();
    let high = rates.last().copied().unwrap_or_default();
    (median, low, high)
}
