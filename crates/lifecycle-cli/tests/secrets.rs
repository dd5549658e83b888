//! No secret reaches `--help`, an error or the log: NATS_CREDS and NATS_TOKEN values stay
//! out of the help of every command, and a refused password stays out of stderr at `-vv`.

mod common;

use std::process::{Command, Output, Stdio};

use lifecycle_testsupport::NatsServer;

fn lifecycle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("NATS_CREDS", "/home/alice/s3cret-path.creds")
        .env("NATS_TOKEN", "s3cret-token")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn help_never_shows_the_values_of_nats_creds_or_nats_token() {
    for args in [
        &["--help"][..],
        &["view", "--help"],
        &["wait", "--help"],
        &["forward", "--help"],
        &["tally", "--help"],
        &["emit", "--help"],
        &["simulate", "--help"],
    ] {
        let output = lifecycle(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains("s3cret"), "{args:?}:\n{text}");
        if args.len() == 2 && args[0] == "view" {
            assert!(text.contains("NATS_CREDS"), "{text}");
            assert!(text.contains("NATS_TOKEN"), "{text}");
        }
    }
}

/// `lifecycle view -vvv` for a second against `url`, nothing from the environment.
fn view(url: &str) -> Output {
    common::bare(&["view", "-vvv", "--timeout", "1s", "--server", url])
        .output()
        .unwrap()
}

#[test]
fn a_refused_password_is_an_error_naming_the_server_and_is_never_printed() {
    let server = NatsServer::with_password("alice", "s3cret");
    let wrong = format!("nats://alice:not-s3cret@127.0.0.1:{}", server.port());
    let output = view(&wrong);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "lifecycle: cannot connect to NATS at nats://***@127.0.0.1:{}: authorization \
             failed (the server refused the user and password, token or credentials file given, \
             or wants some)\n",
            server.port()
        )),
        "{stderr}"
    );

    let right = format!("nats://alice:s3cret@127.0.0.1:{}", server.port());
    let output = view(&right);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("NATS connection ready"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
