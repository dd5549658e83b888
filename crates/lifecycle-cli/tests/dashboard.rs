//! The tally's dashboard in a real browser: headless Chromium, driven over WebDriver by
//! chromedriver, against `lifecycle tally` counting a fleet that `lifecycle simulate`
//! publishes into a real nats-server. It checks what a user sees: the counts equal the API's,
//! the live feed moves, the filter box applies a filter and shows the server's error for a
//! malformed one.
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
use lifecycle_testsupport::NatsServer;
use serde_json::{Value, json};

const NODES: u64 = 3000;
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
            let deadline = Instant::now() + Duration::from_secs(10);
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
        ["0.28.0", "0.29.4"].contains(&version),
        "{line:?}: {version}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_counts_a_moving_feed_and_applies_filters() {
    let chromium = Path::new("/usr/bin/chromium")
        .is_file()
        .then(|| PathBuf::from("/usr/bin/chromium"))
        .or_else(|| which("chromium"))
        .unwrap_or_else(|| panic!("chromium is not installed: {INSTALL_HINT}"));

    let server = NatsServer::start();
    let serving = Serving::tally(&server, &[]);
    let tally = serving.address.clone();
    let _simulate = Process(
        Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .args(["simulate", "--server", &server.url()])
            .args([
                "--nodes",
                &NODES.to_string(),
                "--components",
                "server,broker",
            ])
            .args([
                "--versions",
                "0.28.0:30,0.29.4:70",
                "--alive-interval",
                "3s",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // After the startup storm the counts stay as they are; the alives keep the feed moving.
    eventually(
        "the whole fleet counted",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || {
            let (status, body) = get(&tally, "/api/v1/components")?;
            let components: Vec<Value> = serde_json::from_str(&body).ok()?;
            (status == 200
                && components.len() == 2
                && components.iter().all(|c| c["nodes"] == json!(NODES)))
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
    let client = tokio::time::timeout(Duration::from_secs(30), builder.connect(&driver.url))
        .await
        .expect("a Chromium session within 30 s")
        .unwrap_or_else(|e| panic!("starting Chromium through chromedriver: {e}"));

    bounded(
        "loading the dashboard",
        client.goto(&format!("http://{tally}/")),
    )
    .await;
    let read_counts = "return [...document.querySelectorAll('[data-component]')].map((c) => ({
        component: c.dataset.component,
        nodes: Number(c.dataset.nodes),
        shown: c.querySelector('.component-nodes').innerText,
        versions: [...c.querySelectorAll('[data-version]')].map((v) =>
            [v.dataset.version, Number(v.dataset.count), v.innerText]),
    }));";
    let shown = eventually(
        "the counts on the page",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || {
            let updated = run(&client, "return document.body.dataset.updated ?? null;").await;
            let shown = run(&client, read_counts).await;
            (updated.is_string() && shown.as_array().is_some_and(|a| !a.is_empty()))
                .then_some(shown)
        },
    )
    .await;

    // The page shows what the API answers: every component, its total, its versions newest
    // first, and each number as the text a user reads.
    let (_, body) = get(&tally, "/api/v1/components").unwrap();
    let api: Vec<Value> = serde_json::from_str(&body).unwrap();
    let want: Vec<Value> = api
        .iter()
        .map(|c| {
            let mut versions: Vec<(&String, &Value)> =
                c["versions"].as_object().unwrap().iter().collect();
            versions.reverse();
            json!({
                "component": c["component"],
                "nodes": c["nodes"],
                "shown": c["nodes"].to_string(),
                "versions": versions
                    .into_iter()
                    .map(|(v, n)| json!([v, n, format!("{v}\n{n}")]))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    // A bar's label is two flex items, so its text has them on two lines; compared by words.
    let words = |v: &Value| {
        let mut v = v.clone();
        for c in v.as_array_mut().unwrap() {
            for bar in c["versions"].as_array_mut().unwrap() {
                let text = bar[2]
                    .as_str()
                    .unwrap()
                    .split_whitespace()
                    .collect::<Vec<_>>();
                bar[2] = json!(text);
            }
        }
        v
    };
    assert_eq!(words(&shown), words(&Value::Array(want)), "page vs API");
    let components: Vec<&str> = api
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    assert_eq!(components, ["broker", "server"]);
    for c in &api {
        assert_eq!(c["nodes"], json!(NODES), "{c}");
    }

    // The live feed shows new events within two seconds.
    eventually(
        "the first rows of the feed",
        Duration::from_secs(10),
        Duration::from_millis(100),
        async || (!feed_ids(&client).await.is_empty()).then_some(()),
    )
    .await;
    let seen: HashSet<String> = feed_ids(&client).await.into_iter().collect();
    let noted = Instant::now();
    eventually(
        "a new row in the feed",
        Duration::from_secs(10),
        Duration::from_millis(100),
        async || {
            let ids = feed_ids(&client).await;
            ids.iter().any(|id| !seen.contains(id)).then_some(())
        },
    )
    .await;
    let took = noted.elapsed();
    eprintln!("a new row in the feed after {took:?}");
    assert!(took < Duration::from_secs(2), "a new event took {took:?}");
    let fresh: Vec<Row> = feed_rows(&client)
        .await
        .into_iter()
        .filter(|(id, _, _)| !seen.contains(id))
        .collect();
    assert!(!fresh.is_empty());
    for row in &fresh {
        assert_alive_row(row, &["server", "broker"]);
    }

    // The dashboard as loaded, with its feed running: README.md shows it.
    let png = bounded("the screenshot", client.screenshot()).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    if let Some(path) = std::env::var_os("LIFECYCLE_SCREENSHOT") {
        let path = PathBuf::from(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

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
        Duration::from_secs(10),
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
        Duration::from_secs(10),
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
