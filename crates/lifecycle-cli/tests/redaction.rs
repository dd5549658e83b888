//! One redaction for every output: receiver URLs holding a token user, a password, a query
//! key or a fragment never show in `forward -vv`'s log, a dead letter's headers, `react
//! --dry-run`'s lines or `react --check`'s report; URLs that do not parse are refused with
//! what is wrong, never echoed. And the secrets that used to be on the command line come
//! from files, the environment or systemd credentials.
//!
//! The secrets are upper case (`PASS`, `ABC`, `FRAG`): event ids are lower-case hex, and
//! the logs hold words like "passed".

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use lifecycle_nats::Connection;
use lifecycle_testsupport::{Logged, NatsServer, ServerOptions, VERSION, alive, publish, started};

const SECRETS: [&str; 4] = ["TOKEN", "PASS", "ABC", "FRAG"];

/// URLs that do not parse or are refused, and what the refusal says.
const INVALID: [(&str, &str); 5] = [
    ("http://h:999999/", "invalid port number"),
    (
        "http://user:PASS@h:999999/?token=ABC#FRAG",
        "invalid port number",
    ),
    ("http://[::1", "invalid IPv6 address"),
    ("http://TOKEN@[::1", "invalid IPv6 address"),
    (
        "htps://user:PASS@h/",
        "unknown scheme 'htps' (expected http:// or https://)",
    ),
];

/// Receivers with secrets (nothing listens at `port`), and how they are shown.
fn valid(port: u16) -> [(String, String); 2] {
    [
        (
            format!("http://TOKEN@127.0.0.1:{port}/hook"),
            format!("http://***@127.0.0.1:{port}/hook"),
        ),
        (
            format!("http://user:PASS@127.0.0.1:{port}/hook?token=ABC#FRAG"),
            format!("http://***@127.0.0.1:{port}/hook?token=***#***"),
        ),
    ]
}

fn assert_hidden(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in {what}:\n{text}");
    }
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `lifecycle ARGS` with a clean environment plus `env`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("NATS_TOKEN")
        .env_remove("NATS_CREDS")
        .env_remove("LIFECYCLE_FORWARD_TO")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

async fn publish_alive(connection: &Connection) {
    publish(connection, &[alive("node1.example.net", VERSION)]).await;
}

/// `output` is exit status `code`, nothing on stdout and exactly `stderr`, for `url`.
fn assert_refused(output: &Output, code: i32, stderr: &str, url: &str) {
    let (out, err) = text(output);
    assert_eq!(output.status.code(), Some(code), "{url}: {err}");
    assert_eq!(out, "");
    assert_eq!(err, stderr, "{url}");
}

#[test]
fn forward_refuses_an_invalid_url_saying_why_and_never_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receiver.url");
    for (url, reason) in INVALID {
        std::fs::write(&file, format!("{url}\n")).unwrap();
        let file = file.to_str().unwrap();
        for output in [
            run(&["forward", "-vv", "--to", url], &[]),
            run(&["forward", "-vv", "--to-file", file], &[]),
            run(&["forward", "-vv"], &[("LIFECYCLE_FORWARD_TO", url)]),
        ] {
            let expected = format!("lifecycle: invalid receiver URL: {reason}\n");
            assert_refused(&output, 2, &expected, url);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_logs_and_dead_letters_show_the_receiver_redacted() {
    use futures_util::StreamExt;
    const DEAD: &str = "lifecycle.dead.redaction";
    let (server, connection) = started().await;
    for (url, shown) in valid(free_port()) {
        let mut letters = connection.client().subscribe(DEAD).await.unwrap();
        connection.client().flush().await.unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
        command.args([
            "forward",
            "-vv",
            "--to",
            &url,
            "--max-attempts",
            "1",
            "--dead-letter",
            DEAD,
            "--server",
            &server.url(),
        ]);
        let mut forward = Logged::spawn(command);
        // Live: events published before it subscribed are not seen; publish until one is.
        let deadline = Instant::now() + Duration::from_secs(30);
        let letter = loop {
            assert!(
                Instant::now() < deadline,
                "no dead letter:\n{}",
                forward.log()
            );
            publish_alive(&connection).await;
            if let Ok(Some(letter)) =
                tokio::time::timeout(Duration::from_millis(300), letters.next()).await
            {
                break letter;
            }
        };
        let headers = letter.headers.clone().unwrap();
        let handler = headers.get("Lifecycle-Dead-Letter-Handler").unwrap();
        assert_eq!(handler.as_str(), shown);
        let all: Vec<String> = headers
            .iter()
            .map(|(name, values)| format!("{name}: {values:?}"))
            .collect();
        assert_hidden("the dead letter's headers", &all.join("\n"));
        forward.kill();
        let log = forward.log();
        assert!(
            log.contains(&format!("forwarding events url={shown}")),
            "{log}"
        );
        assert!(log.contains("dead-lettering the event"), "{log}");
        assert_hidden("forward -vv's log", &log);
    }
}

fn rules(dir: &Path, url: &str) -> String {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        format!("[[rules]]\nname = \"hook\"\nfilter = \"alive\"\nhttp = {{ url = \"{url}\" }}\n"),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn react_check_reports_an_invalid_url_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    for (url, reason) in INVALID {
        let path = rules(dir.path(), url);
        let output = run(&["react", "-vv", "--check", &path], &[]);
        let expected = format!("{path}:4: rule 'hook': http.url: invalid receiver URL: {reason}\n");
        assert_refused(&output, 1, &expected, url);
    }
    for (url, _) in valid(9) {
        let path = rules(dir.path(), &url);
        let output = run(&["react", "-vv", "--check", &path], &[]);
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(0), "{url}: {stderr}");
        assert_eq!(stdout, format!("{path}: 1 rules, valid\n"));
        assert_hidden("react --check", &format!("{stdout}{stderr}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn react_dry_run_shows_the_receiver_redacted() {
    let (server, connection) = started().await;
    let dir = tempfile::tempdir().unwrap();
    for (url, shown) in valid(9) {
        let path = rules(dir.path(), &url);
        let args = [
            "react",
            "-vv",
            "--rules",
            &path,
            "--dry-run",
            "--count",
            "1",
        ];
        let mut child = common::lifecycle(&server, &args).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("react --dry-run printed nothing in 30s");
            }
            publish_alive(&connection).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let output = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        assert!(
            stdout.starts_with(&format!("hook: POST {shown} (binary mode) id ")),
            "{stdout}"
        );
        assert_hidden("react --dry-run", &format!("{stdout}{stderr}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receiver_comes_from_a_file_the_environment_or_a_systemd_credential() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let [(url, shown), _] = valid(port);
    let file = dir.path().join("receiver.url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("forward-to"), &url).unwrap();
    /// Arguments, and variables of the environment.
    type Way<'a> = (&'a [&'a str], &'a [(&'a str, &'a Path)]);
    let ways: [Way; 3] = [
        (&["--to-file", file.to_str().unwrap()], &[]),
        (&[], &[("LIFECYCLE_FORWARD_TO", Path::new(&url))]),
        (&[], &[("CREDENTIALS_DIRECTORY", &credentials)]),
    ];
    for (args, env) in ways {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
        command
            .args(["forward", "-v", "--server", &server.url()])
            .args(args)
            .env_remove("LIFECYCLE_FORWARD_TO")
            .env_remove("CREDENTIALS_DIRECTORY")
            .envs(env.iter().map(|(k, v)| (k, v.as_os_str())));
        let forward = Logged::spawn(command);
        common::wait_until("the forwarder to start", Duration::from_secs(20), || {
            forward.log().contains("forwarding events")
        });
        let log = forward.log();
        assert!(log.contains(&format!("url={shown}")), "{args:?} {log}");
        assert_hidden("forward -v's log", &log);
    }

    let missing = dir.path().join("missing.url");
    let output = run(&["forward", "--to-file", missing.to_str().unwrap()], &[]);
    assert_eq!(
        text(&output).1,
        format!(
            "lifecycle: the receiver's URL: cannot read the secret file {}: No such file or \
             directory (os error 2)\n",
            missing.display()
        )
    );
    std::fs::write(&file, "\n").unwrap();
    let output = run(&["forward", "--to-file", file.to_str().unwrap()], &[]);
    assert_eq!(
        text(&output).1,
        format!(
            "lifecycle: the receiver's URL: the secret file {} is empty\n",
            file.display()
        )
    );
    let output = run(&["forward"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output).1,
        "lifecycle: give the receiver's URL: --to URL, --to-file FILE, LIFECYCLE_FORWARD_TO or \
         the systemd credential forward-to\n"
    );
}

#[test]
fn nats_secrets_come_from_files_or_systemd_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let view = |args: &[&str], env: &[(&str, &str)]| {
        let output = run(&[&["view", "-vv", "--timeout", "1s"], args].concat(), env);
        let (_, stderr) = text(&output);
        assert!(!stderr.contains("s3cret"), "{stderr}");
        (output.status.code(), stderr)
    };

    let token = NatsServer::with_options(ServerOptions {
        args: ["--auth", "s3cret-token"].map(String::from).into(),
        ..Default::default()
    });
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let url = token.url();
    let (code, stderr) = view(&["--server", &url], &[]);
    assert_eq!(code, Some(2), "without the token: {stderr}");
    let (code, stderr) = view(
        &[
            "--server",
            &url,
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(0), "--token-file: {stderr}");
    let (code, stderr) = view(
        &["--server", &url],
        &[("NATS_TOKEN_FILE", token_file.to_str().unwrap())],
    );
    assert_eq!(code, Some(0), "NATS_TOKEN_FILE: {stderr}");
    std::fs::write(credentials.join("nats-token"), "s3cret-token").unwrap();
    let (code, stderr) = view(
        &["--server", &url],
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())],
    );
    assert_eq!(code, Some(0), "the nats-token credential: {stderr}");

    let password = NatsServer::with_password("alice", "s3cret");
    let with_password = format!("nats://alice:s3cret@127.0.0.1:{}\n", password.port());
    let servers = dir.path().join("servers");
    std::fs::write(&servers, &with_password).unwrap();
    let (code, stderr) = view(&["--server-file", servers.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "--server-file: {stderr}");
    assert!(
        stderr.contains(&format!("nats://***@127.0.0.1:{}", password.port())),
        "{stderr}"
    );
    std::fs::write(credentials.join("nats-url"), &with_password).unwrap();
    std::fs::remove_file(credentials.join("nats-token")).unwrap();
    let (code, stderr) = view(
        &[],
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())],
    );
    assert_eq!(code, Some(0), "the nats-url credential: {stderr}");
}
