//! The tally's dashboard in a real browser: headless Chromium, driven over WebDriver by
//! chromedriver, against `lifecycle tally` counting a fleet that `lifecycle simulate`
//! publishes into a real nats-server, its servers caught mid-rollout. It checks what a user
//! sees: the header's state, the counts and each version's share equal the API's (the newest
//! version highlighted), a version's nodes page by page as the API lists them, a hostile
//! identity shown as text, the live feed moving with the type colours of `view`, its pause
//! button, and the filter box applying a filter and showing the server's error for a
//! malformed one. Every wait polls with a generous deadline: the machine may be loaded.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`,
//! which .ci/run does); without them the test fails, it never skips.
//!
//! The screenshot in README.md (docs/dashboard.png) is this test's view of the dashboard. To
//! regenerate it, from the workspace root (a relative path would be taken from the crate's
//! directory, where cargo runs tests):
//!
//! ```text
//! LIFECYCLE_SCREENSHOT=$PWD/docs/dashboard.png cargo test -p lifecycle-cli --test dashboard
//! ```

mod common;

use std::collections::HashSet;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Process, Serving, get};
use fantoccini::{Client, ClientBuilder, Locator, key::Key};
use lifecycle_core::compare_versions;
use lifecycle_nats::{ConnectOptions, Connection, Settings};
use lifecycle_testsupport::{NatsServer, encode_query};
use serde_json::{Value, json};

const NODES: u64 = 3000;

/// Nodes in a page of the dashboard's node list.
const PAGE: u64 = 25;

/// What an attacker names their node: markup, which must show as text.
const HOSTILE: &str = "<img src=x onerror=window.pwned=1>";
const INSTALL_HINT: &str = "apt-get install chromium chromium-driver (.ci/run does this)";

/// chromedriver in a process group of its own, so that on drop the browser it started goes
/// with it (killing chromedriver alone would leave Chromium running).
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    /// On a free loopback port: one that was free a moment ago, so tried again if taken.
    fn start() -> Chromedriver {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let child = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run chromedriver ({e}): {INSTALL_HINT}"));
            let mut driver = Chromedriver {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            let address = format!("127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if driver.child.try_wait().unwrap().is_some() {
                    break; // the port was taken after all: try another
                }
                if get(&address, "/status")
                    .is_some_and(|(status, body)| status == 200 && body.contains("\"ready\":true"))
                {
                    return driver;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("chromedriver did not start on any of 5 ports");
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// The first executable `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Polls `probe` every `every` until it answers, for at most `within`.
async fn eventually<T>(
    what: &str,
    within: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(every).await;
    }
}

/// One WebDriver command, answered within 20 s: a hung browser fails the test.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    command: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(Duration::from_secs(20), command).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within 20 s"),
    }
}

async fn run(client: &Client, script: &str) -> Value {
    bounded(script, client.execute(script, vec![])).await
}

type Row = (String, String, String);

/// The ids of the rows in the live feed, newest first.
async fn feed_ids(client: &Client) -> Vec<String> {
    let ids = run(
        client,
        "return [...document.querySelectorAll('#feed li[data-id]')].map((li) => li.dataset.id);",
    )
    .await;
    serde_json::from_value(ids).unwrap()
}

/// The rows in the live feed, newest first: their id and visible time and line.
async fn feed_rows(client: &Client) -> Vec<Row> {
    let rows = run(
        client,
        "return [...document.querySelectorAll('#feed li[data-id]')].map((li) => \
         [li.dataset.id, li.querySelector('time').innerText, \
          li.querySelector('.line').innerText]);",
    )
    .await;
    serde_json::from_value(rows).unwrap()
}

/// A row as app.js renders an alive from the simulated fleet:
/// `[alive] node000042.sim.example.net: server version 0.29.4`.
fn assert_alive_row((_, time, line): &Row, components: &[&str]) {
    let bytes = time.as_bytes();
    assert!(
        time.len() == 8 && bytes[2] == b':' && bytes[5] == b':',
        "a row's time {time:?} is HH:MM:SS"
    );
    let (identity, rest) = line
        .strip_prefix("[alive] ")
        .and_then(|l| l.split_once(": "))
        .unwrap_or_else(|| panic!("{line:?} is an alive row"));
    assert!(
        identity.starts_with("node") && identity.ends_with(".sim.example.net"),
        "{line:?} names a simulated node"
    );
    let (component, version) = rest
        .split_once(" version ")
        .unwrap_or_else(|| panic!("{line:?} gives a version"));
    assert!(components.contains(&component), "{line:?}: {component}");
    assert!(
        ["0.28.0", "0.29.4", "0.30.0"].contains(&version),
        "{line:?}: {version}"
    );
}

/// `lifecycle simulate` publishing to `server` with `args`.
fn simulate(server: &NatsServer, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
    command
        .args([
            "simulate",
            "--server",
            &server.url(),
            "--nodes",
            &NODES.to_string(),
        ])
        .args(["--versions", "0.28.0:30,0.29.4:70"])
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Publishes `json` on `subject`, as anyone on the network can.
async fn publish_raw(server: &NatsServer, subject: &str, json: String) {
    let options = ConnectOptions {
        servers: vec![server.url()],
        ..Default::default()
    };
    let settings = Settings::resolve_with(&options, None, &[]).unwrap();
    let connection = Connection::connect(&settings).await.unwrap();
    connection
        .client()
        .publish(subject.to_owned(), json.into())
        .await
        .unwrap();
    connection.client().flush().await.unwrap();
}

/// A JavaScript expression for the element of component `component`'s version `version`
/// (or its component element when `version` is null), found by data rather than by a CSS
/// selector, so any name works.
fn version_element(component: &str, version: Option<&str>) -> String {
    format!(
        "[...document.querySelectorAll('[data-component]')]
             .filter((c) => c.dataset.component === {component})
             .flatMap((c) => {version} === null ? [c]
                 : [...c.querySelectorAll('[data-version]')].filter((v) => v.dataset.version === {version}))[0]",
        component = json!(component),
        version = json!(version),
    )
}

/// The rows of the node list: identity (as the text shown), version, state.
async fn node_rows(client: &Client) -> Vec<(String, String, String)> {
    let rows = run(
        client,
        "return [...document.querySelectorAll('#nodes-list tr[data-identity]')].map((tr) =>
             [tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[3].textContent]);",
    )
    .await;
    serde_json::from_value(rows).unwrap()
}

/// How many pages the node list has loaded.
async fn pages_loaded(client: &Client) -> u64 {
    let loaded = run(
        client,
        "return Number(document.getElementById('nodes-panel').dataset.loaded || 0);",
    )
    .await;
    loaded.as_u64().unwrap()
}

/// Clicks `expression` (an element) and waits for the node list's next page.
async fn click_for_nodes(client: &Client, expression: &str) {
    let before = pages_loaded(client).await;
    run(client, &format!("({expression}).click(); return null;")).await;
    eventually(
        "the node list",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || (pages_loaded(client).await > before).then_some(()),
    )
    .await;
}

/// A page of `/api/v1/nodes?QUERY`, as (identity, version, state) and the next cursor.
fn api_nodes(tally: &str, query: &str) -> (Vec<(String, String, String)>, Option<String>) {
    let (status, body) = get(tally, &format!("/api/v1/nodes?{query}")).unwrap();
    assert_eq!(status, 200, "{query}: {body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let nodes = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["identity"].as_str().unwrap().to_owned(),
                n["version"].as_str().unwrap().to_owned(),
                n["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (nodes, page["next_cursor"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_rollout_the_tallys_state_nodes_and_a_moving_feed() {
    let chromium = Path::new("/usr/bin/chromium")
        .is_file()
        .then(|| PathBuf::from("/usr/bin/chromium"))
        .or_else(|| which("chromium"))
        .unwrap_or_else(|| panic!("chromium is not installed: {INSTALL_HINT}"));

    let server = NatsServer::start();
    let serving = Serving::tally(&server, &[]);
    let tally = serving.address.clone();
    eventually(
        "the tally to be ready",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || get(&tally, "/readyz").and_then(|(s, _)| (s == 200).then_some(())),
    )
    .await;
    // The brokers: counted once, then alive every 3 s, which keeps the feed moving.
    let _brokers = Process(
        simulate(
            &server,
            &["--components", "broker", "--alive-interval", "3s"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    // The servers: an upgrade to 0.30.0 under way when the simulation stops, so the
    // rollout stays where it got to (nodes expire only after 80 minutes).
    let servers = simulate(
        &server,
        &[
            "--components",
            "server",
            "--upgrade-to",
            "0.30.0",
            "--upgrade-rate",
            "120",
            "--duration",
            "6s",
        ],
    )
    .output()
    .unwrap();
    assert!(
        servers.status.success(),
        "{}",
        String::from_utf8_lossy(&servers.stderr)
    );
    let simulated: Vec<Value> = serde_json::from_slice(&servers.stdout).unwrap();
    eventually(
        "the whole fleet counted",
        Duration::from_secs(60),
        Duration::from_millis(100),
        async || {
            let (status, body) = get(&tally, "/api/v1/components")?;
            let components: Vec<Value> = serde_json::from_str(&body).ok()?;
            let server = components.iter().find(|c| c["component"] == "server")?;
            (status == 200
                && components.len() == 2
                && components.iter().all(|c| c["nodes"] == json!(NODES))
                && *server == simulated[0])
                .then_some(())
        },
    )
    .await;

    let profile = tempfile::tempdir().unwrap();
    let driver = Chromedriver::start();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            // Background networking off: on a closed network Chromium's own connections
            // (updates, sync, components) are refused.
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
                "--window-size=1280,900",
            ],
        }),
    );
    // chromedriver listens on loopback: plain HTTP.
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut builder = ClientBuilder::new(connector);
    builder.capabilities(capabilities);
    let client = tokio::time::timeout(Duration::from_secs(60), builder.connect(&driver.url))
        .await
        .expect("a Chromium session within 60 s")
        .unwrap_or_else(|e| panic!("starting Chromium through chromedriver: {e}"));

    bounded(
        "loading the dashboard",
        client.goto(&format!("http://{tally}/")),
    )
    .await;

    // The header: this tally leads, is connected and ready, has refused and expired nothing.
    let header = "return ['role', 'broker', 'readiness'].map((id) => {
            const el = document.getElementById(id);
            return [el.dataset.state, el.innerText];
        }).concat([['refused', 'expired', 'lost'].map((id) => document.getElementById(id).innerText)]);";
    let want_header = json!([
        ["leader", "leader"],
        ["connected", "broker connected"],
        ["ready", "ready"],
        ["0", "0", "0"],
    ]);
    let mut shown_header = Value::Null;
    eventually(
        "the header",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || {
            shown_header = run(&client, header).await;
            (shown_header == want_header).then_some(())
        },
    )
    .await;

    // Every component, its total, its versions newest first with their count and share of
    // the component's nodes, the newest highlighted: as the API answers.
    let read_counts = "return [...document.querySelectorAll('[data-component]')].map((c) => ({
        component: c.dataset.component,
        nodes: Number(c.dataset.nodes),
        shown: c.querySelector('.component-nodes').innerText,
        versions: [...c.querySelectorAll('[data-version]')].map((v) => [
            v.dataset.version,
            Number(v.dataset.count),
            v.querySelector('.version-count').innerText,
            v.querySelector('.version-share').innerText,
            v.dataset.newest === 'true',
        ]),
        lost: c.querySelector('.component-lost').dataset.lost,
    }));";
    let (_, body) = get(&tally, "/api/v1/components").unwrap();
    let api: Vec<Value> = serde_json::from_str(&body).unwrap();
    let shown = eventually(
        "the counts on the page",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || {
            let updated = run(&client, "return document.body.dataset.updated ?? null;").await;
            let shown = run(&client, read_counts).await;
            (updated.is_string() && shown.as_array().is_some_and(|a| a.len() == api.len()))
                .then_some(shown)
        },
    )
    .await;
    let components: Vec<&str> = api
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    assert_eq!(components, ["broker", "server"]);
    for (c, page) in api.iter().zip(shown.as_array().unwrap()) {
        let total = c["nodes"].as_u64().unwrap();
        assert_eq!(total, NODES, "{c}");
        assert_eq!(page["component"], c["component"]);
        assert_eq!(page["nodes"], c["nodes"]);
        assert_eq!(page["shown"], json!(total.to_string()));
        assert_eq!(page["lost"], json!("0"));
        let mut versions: Vec<(&String, u64)> = c["versions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(v, n)| (v, n.as_u64().unwrap()))
            .collect();
        versions.sort_by(|a, b| compare_versions(b.0, a.0));
        let bars = page["versions"].as_array().unwrap();
        assert_eq!(bars.len(), versions.len(), "{page}");
        for (i, ((version, n), bar)) in versions.iter().zip(bars).enumerate() {
            assert_eq!(bar[0], json!(version), "{page}");
            assert_eq!(bar[1], json!(n), "{page}");
            assert_eq!(bar[2], json!(n.to_string()), "{page}");
            let share: f64 = bar[3]
                .as_str()
                .and_then(|s| s.strip_suffix('%'))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("a share in {bar}"));
            let exact = 100.0 * *n as f64 / total as f64;
            assert!(
                (share - exact).abs() <= 0.05 + 1e-9,
                "{version}: shown {share}%, {n} of {total} is {exact}%"
            );
            assert_eq!(
                bar[4],
                json!(i == 0),
                "only the newest is highlighted: {page}"
            );
        }
    }
    let server_versions: Vec<&str> = shown[1]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[0].as_str().unwrap())
        .collect();
    eprintln!("the servers mid-rollout: {}", shown[1]);

    // The live feed shows new events as they come, coloured by type as `view` does.
    eventually(
        "the first rows of the feed",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || (!feed_ids(&client).await.is_empty()).then_some(()),
    )
    .await;
    let seen: HashSet<String> = feed_ids(&client).await.into_iter().collect();
    let noted = Instant::now();
    eventually(
        "a new row in the feed",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || {
            let ids = feed_ids(&client).await;
            ids.iter().any(|id| !seen.contains(id)).then_some(())
        },
    )
    .await;
    let took = noted.elapsed();
    eprintln!("a new row in the feed after {took:?}");
    let fresh: Vec<Row> = feed_rows(&client)
        .await
        .into_iter()
        .filter(|(id, _, _)| !seen.contains(id))
        .collect();
    assert!(!fresh.is_empty());
    for row in &fresh {
        assert_alive_row(row, &["server", "broker"]);
    }
    let types = run(
        &client,
        "return [...new Set([...document.querySelectorAll('#feed li')].map((li) => li.dataset.type))];",
    )
    .await;
    assert_eq!(types, json!(["alive"]), "the broker's alives");
    let colours = run(
        &client,
        "const probe = (type) => {
             const li = document.createElement('li');
             li.dataset.type = type;
             const line = document.createElement('span');
             line.className = 'line';
             li.append(line);
             document.getElementById('feed').append(li);
             const colour = getComputedStyle(line).color;
             li.remove();
             return colour;
         };
         return ['alive', 'startup', 'shutdown', 'provisioned', 'governor', 'upgraded', 'transition', 'state'].map(probe);",
    )
    .await;
    let colours: Vec<String> = serde_json::from_value(colours).unwrap();
    let distinct: HashSet<&String> = colours[..7].iter().collect();
    assert_eq!(distinct.len(), 7, "a colour per type: {colours:?}");
    assert_eq!(
        colours[6], colours[7],
        "machine events share blue: {colours:?}"
    );

    // Clicking a version lists its nodes, a page at a time, as the API pages them.
    // The servers still on the oldest version, those an operator looks for mid-rollout, when
    // they fill more than a page; else those on the version most run.
    let bars = shown[1]["versions"].as_array().unwrap();
    let oldest = bars.last().unwrap();
    let listed = if oldest[1].as_u64() > Some(PAGE) {
        oldest
    } else {
        bars.iter().max_by_key(|v| v[1].as_u64()).unwrap()
    };
    let listed = listed[0].as_str().unwrap().to_owned();
    click_for_nodes(&client, &version_element("server", Some(&listed))).await;
    let query = format!(
        "component=server&version={}&state=up&limit={PAGE}",
        encode_query(&listed)
    );
    let (first, next) = api_nodes(&tally, &query);
    assert_eq!(first.len() as u64, PAGE);
    assert_eq!(node_rows(&client).await, first);
    let title = run(
        &client,
        "return document.getElementById('nodes-title').innerText;",
    )
    .await;
    assert_eq!(title, json!(format!("server {listed}: nodes up")));

    // The dashboard mid-rollout, its feed running, the stragglers listed: README.md shows
    // it.
    let png = bounded("the screenshot", client.screenshot()).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    if let Some(path) = std::env::var_os("LIFECYCLE_SCREENSHOT") {
        let path = PathBuf::from(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    let next = next.expect("more than one page");
    let more = bounded("#nodes-next", client.find(Locator::Css("#nodes-next"))).await;
    let before = pages_loaded(&client).await;
    bounded("the next page", more.click()).await;
    eventually(
        "the next page",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || (pages_loaded(&client).await > before).then_some(()),
    )
    .await;
    let (second, _) = api_nodes(&tally, &format!("{query}&cursor={next}"));
    assert_eq!(node_rows(&client).await, second);
    assert!(first.iter().all(|node| !second.contains(node)));

    // Paused, the feed holds still while events keep coming; resumed, it moves again.
    let pause = bounded("#pause", client.find(Locator::Css("#pause"))).await;
    bounded("pausing", pause.click()).await;
    let frozen = feed_ids(&client).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(feed_ids(&client).await, frozen, "a paused feed moved");
    let held = eventually(
        "events held while paused",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || {
            let notice = run(
                &client,
                "return document.getElementById('paused').innerText;",
            )
            .await;
            notice
                .as_str()
                .filter(|n| n.starts_with("Paused: ") && !n.contains("no new events"))
                .map(str::to_owned)
        },
    )
    .await;
    eprintln!("{held}");
    bounded("resuming", pause.click()).await;
    eventually(
        "the feed to move again",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || (feed_ids(&client).await != frozen).then_some(()),
    )
    .await;

    // An identity that is markup shows as text: no element made from it, no script run.
    let hostile = json!({
        "protocol": "io.choria.lifecycle.v1.alive",
        "id": "00000000-0000-4000-8000-000000000666",
        "identity": HOSTILE,
        "component": "server",
        "timestamp": 0,
        "version": "0.0.1",
    });
    publish_raw(
        &server,
        "choria.lifecycle.event.alive.server",
        hostile.to_string(),
    )
    .await;
    let bar = version_element("server", Some("0.0.1"));
    eventually(
        "the hostile node's version on the page",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || {
            let found = run(&client, &format!("return Boolean({bar});")).await;
            (found == json!(true)).then_some(())
        },
    )
    .await;
    click_for_nodes(&client, &bar).await;
    assert_eq!(
        node_rows(&client).await,
        [(HOSTILE.to_owned(), "0.0.1".to_owned(), "up".to_owned())]
    );
    let injected = run(
        &client,
        "return [document.querySelectorAll('img').length, window.pwned ?? null];",
    )
    .await;
    assert_eq!(injected, json!([0, null]), "[img elements, pwned]");
    assert!(!server_versions.contains(&"0.0.1"));

    // The filter box: on Enter the feed restarts with only the matching events. The feed is
    // emptied at the switch (and only then): from that moment every row is a filtered one.
    run(
        &client,
        "const feed = document.getElementById('feed');
         window.switched = false;
         new MutationObserver(() => {
             if (feed.childElementCount === 0) window.switched = true;
         }).observe(feed, { childList: true });
         return null;",
    )
    .await;
    let filter = bounded("#filter", client.find(Locator::Css("#filter"))).await;
    bounded("clearing #filter", filter.clear()).await;
    let typed = "alive,component=broker".to_owned() + &Key::Enter;
    bounded("typing into #filter", filter.send_keys(&typed)).await;
    eventually(
        "rows after the filter was applied",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || {
            let switched = run(&client, "return window.switched;").await;
            (switched == json!(true) && feed_ids(&client).await.len() >= 20).then_some(())
        },
    )
    .await;
    let rows = feed_rows(&client).await;
    assert!(rows.len() >= 20);
    for row in &rows {
        assert_alive_row(row, &["broker"]);
    }
    let error = run(
        &client,
        "return document.getElementById('filter-error').innerText;",
    )
    .await;
    assert_eq!(error, json!(""), "no error for a good filter");

    // A malformed filter: the server's message, with the position of the error.
    bounded("clearing #filter", filter.clear()).await;
    let typed = "foo=bar".to_owned() + &Key::Enter;
    bounded("typing into #filter", filter.send_keys(&typed)).await;
    let error = eventually(
        "the filter's error",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || {
            let error = run(
                &client,
                "return document.getElementById('filter-error').innerText;",
            )
            .await;
            error.as_str().filter(|e| !e.is_empty()).map(str::to_owned)
        },
    )
    .await;
    assert!(
        error.contains("unknown key 'foo'") && error.contains("position 1"),
        "{error}"
    );

    bounded("closing the browser", client.close()).await;
    drop(driver);
}
