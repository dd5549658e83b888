//! Values on the command line that are out of range are one clear line on stderr and exit
//! 2, before anything connects: never a panic. Nothing listens on the server given.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `lifecycle ARGS` (bounded in time) and returns its exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(args)
        .args(["--server", "nats://127.0.0.1:1"])
        .env_remove("NATS_URL")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lifecycle");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lifecycle {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

const RATE: &str = "it must be a number a second from 0.001 to 1000000";

#[test]
fn simulate_refuses_what_it_cannot_simulate() {
    let sim = [
        "simulate",
        "--tally",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "1s",
    ];
    let cases: &[(&[&str], String)] = &[
        (
            &["--components", "server,a\tb"],
            r"invalid component 'a\tb': a NATS subject token cannot hold white space ('\t')"
                .to_owned(),
        ),
        (
            &["--components", "a.b"],
            "invalid component 'a.b': a NATS subject token cannot hold '.'".to_owned(),
        ),
        (
            &["--components", "x\u{1b}[2J"],
            r"invalid component 'x\x1b[2J': a NATS subject token cannot hold a control character ('\x1b')"
                .to_owned(),
        ),
        (&["--rate", "1e-20"], format!("invalid rate 1e-20: {RATE}")),
        (&["--rate", "NaN"], format!("invalid rate NaN: {RATE}")),
        (&["--rate", "inf"], format!("invalid rate inf: {RATE}")),
        (&["--rate=-1"], format!("invalid rate -1.0: {RATE}")),
        (&["--rate", "0"], format!("invalid rate 0.0: {RATE}")),
        (&["--rate", "1e300"], format!("invalid rate 1e300: {RATE}")),
        (
            &["--restart-rate", "1e300"],
            format!("invalid restart rate 1e300: {RATE}"),
        ),
        (
            &["--restart-rate", "NaN"],
            format!("invalid restart rate NaN: {RATE}"),
        ),
        (
            &["--upgrade-to", "1.0", "--upgrade-rate", "1e-300"],
            format!("invalid upgrade rate 1e-300: {RATE}"),
        ),
        (
            &["--upgrade-to", "1.0", "--upgrade-rate", "0"],
            format!("invalid upgrade rate 0.0: {RATE}"),
        ),
        (
            &["--alive-interval", "0s"],
            "invalid alive interval 0ns: it must be above 0 and at most 100 years".to_owned(),
        ),
        (
            &["--nodes", "0"],
            "a fleet needs between 1 and 10000000 nodes, not 0".to_owned(),
        ),
        (
            &["--nodes", "18446744073709551615"],
            "a fleet needs between 1 and 10000000 nodes, not 18446744073709551615".to_owned(),
        ),
        (
            &["--nodes", "10000000", "--components", "a,b,c"],
            "10000000 nodes running 3 components each are more than the 20000000 components \
             a simulated fleet can run"
                .to_owned(),
        ),
        (
            &["--versions", "1.0:0"],
            "a fleet needs at least one version with a weight above 0".to_owned(),
        ),
    ];
    for (extra, message) in cases {
        let mut args = sim.to_vec();
        args.extend_from_slice(extra);
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr, format!("lifecycle: {message}\n"), "{extra:?}");
    }
}

#[test]
fn durations_out_of_range_are_usage_errors() {
    let too_long = "longer than the maximum of 100 years (876600h)";
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["view", "--since", "5000000d"],
            "--since <DURATION|TIME>",
            "5000000d",
        ),
        (
            &["wait", "--filter", "alive", "--since", "5000000d"],
            "--since <DURATION|TIME>",
            "5000000d",
        ),
        (
            &["view", "--timeout", "18446744073709551615"],
            "--timeout <DURATION>",
            "18446744073709551615",
        ),
        (
            &[
                "wait",
                "--filter",
                "alive",
                "--timeout",
                "18446744073709551615s",
            ],
            "--timeout <DURATION>",
            "18446744073709551615s",
        ),
        (
            &["tally", "--max-age", "18446744073709551615"],
            "--max-age <DURATION>",
            "18446744073709551615",
        ),
        (
            &["simulate", "--duration", "18446744073709551615"],
            "--duration <DURATION>",
            "18446744073709551615",
        ),
        (
            &["simulate", "--alive-interval", "36526d"],
            "--alive-interval <DURATION>",
            "36526d",
        ),
        (
            &[
                "forward",
                "--to",
                "http://127.0.0.1:1/",
                "--ack-wait",
                "876601h",
            ],
            "--ack-wait <DURATION>",
            "876601h",
        ),
        (
            &[
                "forward",
                "--to",
                "http://127.0.0.1:1/",
                "--max-backoff",
                "1e30",
            ],
            "--max-backoff <DURATION>",
            "1e30",
        ),
    ];
    for (args, flag, value) in cases {
        let (code, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        let reason = if *value == "1e30" {
            "unknown unit 'e' (use ns, us, ms, s, m, h or d)".to_owned()
        } else if flag.starts_with("--since") {
            format!("{too_long} (or give an RFC 3339 time, e.g. 2026-11-30T10:00:00Z)")
        } else {
            too_long.to_owned()
        };
        assert_eq!(
            first,
            format!("error: invalid value '{value}' for '{flag}': {reason}"),
            "{args:?}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, stderr) = run(&["view", "--since", "2026-02-30T00:00:00Z"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        "error: invalid value '2026-02-30T00:00:00Z' for '--since <DURATION|TIME>': not an \
         RFC 3339 time (e.g. 2026-11-30T10:00:00Z or 2026-11-30T11:00:00+01:00)"
    );
}

#[test]
fn emit_refuses_identities_with_control_characters() {
    for (identity, shown) in [
        ("web1\u{1b}[2J", r"web1\x1b[2J"),
        ("web1\r\n[alive] forged", r"web1\r\n[alive] forged"),
        ("web1\u{9b}", r"web1\u{9b}"),
    ] {
        let args = [
            "emit",
            "alive",
            "-i",
            identity,
            "-c",
            "server",
            "--version",
            "1.0",
        ];
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "lifecycle: cannot build the alive event: invalid identity '{shown}': an \
                 identity cannot hold control characters, U+2028, U+2029 or bidirectional \
                 overrides\n"
            )
        );
    }
}
