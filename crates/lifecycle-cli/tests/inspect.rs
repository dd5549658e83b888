//! `lifecycle inspect`, run as a user runs it: the built binary, real files, real stdin.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// One of the project's example events (`schemas/examples`), which are the bytes Choria
/// writes (the interoperability suite checks it against Choria's own).
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/examples")
        .join(name)
}

/// An example's JSON without the white space outside strings.
fn compact(name: &str) -> String {
    let text = std::fs::read_to_string(example(name)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let out = lifecycle_testsupport::minify(&text);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        value
    );
    out
}

fn inspect(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("inspect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lifecycle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// Each display line as DESIGN.md gives it for the example's event.
#[test]
fn files_print_choria_display_lines() {
    let table = [
        (
            "lifecycle/v1/startup.json",
            "[startup] node1.example.net: server version 0.29.4",
        ),
        (
            "lifecycle/v1/shutdown.json",
            "[shutdown] node1.example.net: server",
        ),
        (
            "lifecycle/v1/provisioned.json",
            "[provisioned] node1.example.net: server",
        ),
        (
            "lifecycle/v1/alive.json",
            "[alive] node1.example.net: server version 0.29.4",
        ),
        (
            "lifecycle/v1/upgraded.json",
            "[upgraded] node1.example.net: server version 0.28.0 to 0.29.4",
        ),
        (
            "lifecycle/v1/governor.enter.json",
            "[governor] node1.example.net: obtained slot 10 on PUPPET",
        ),
        (
            "lifecycle/v1/governor.exit.json",
            "[governor] node1.example.net: vacated PUPPET",
        ),
        (
            "cloudevents/v1/lifecycle.json",
            "[alive] node1.example.net: server version 0.29.4",
        ),
    ];
    let files: Vec<String> = table
        .iter()
        .map(|(name, _)| example(name).display().to_string())
        .collect();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    // Several files: each line says which it came from, as grep does.
    let out = inspect(&args, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want: Vec<String> = table
        .iter()
        .zip(&files)
        .map(|((_, line), file)| format!("{file}:{line}"))
        .collect();
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), want);
    assert_eq!(text(&out.stderr), "");
    // --no-filename: the display lines alone.
    args.insert(0, "--no-filename");
    let out = inspect(&args, "");
    let want: Vec<&str> = table.iter().map(|(_, line)| *line).collect();
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), want);
    // One file: no name unless asked for, with -H also in --json.
    let one = &files[0];
    let out = inspect(&[one], "");
    assert_eq!(text(&out.stdout), format!("{}\n", table[0].1));
    let out = inspect(&["-H", one], "");
    assert_eq!(text(&out.stdout), format!("{one}:{}\n", table[0].1));
    let out = inspect(&["-H", "--json", "-"], &compact("lifecycle/v1/alive.json"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["file"], "(standard input)");
    let out = inspect(&["--json", "-"], &compact("lifecycle/v1/alive.json"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.get("file"), None);
}

#[test]
fn json_reports_every_field() {
    let file = example("lifecycle/v1/alive.json");
    let out = inspect(&["--json", file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["format"], "choria");
    assert_eq!(report["type"], "alive");
    assert_eq!(report["protocol"], "io.choria.lifecycle.v1.alive");
    assert_eq!(report["id"], "6b0b2a6e-1f0e-4c1a-9d2e-000000000007");
    assert_eq!(report["identity"], "node1.example.net");
    assert_eq!(report["component"], "server");
    assert_eq!(report["timestamp"], 1_700_000_000);
    assert_eq!(report["subject"], "choria.lifecycle.event.alive.server");
    assert_eq!(
        report["display"],
        "[alive] node1.example.net: server version 0.29.4"
    );
    // The embedded objects keep Choria's key order: compare their text.
    let choria = compact("lifecycle/v1/alive.json");
    let cloudevent = compact("cloudevents/v1/lifecycle.json");
    assert!(
        stdout.contains(&format!("\"event\":{}", choria.trim())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\"cloudevent\":{}", cloudevent.trim())),
        "{stdout}"
    );
}

#[test]
fn stdin_lines_report_each_error_and_exit_1() {
    let alive = compact("cloudevents/v1/lifecycle.json");
    let input = format!(
        "{}\n\n{{\"protocol\":\"io.choria.lifecycle.v1.bogus\"}}\nnot json\n",
        alive.trim()
    );
    let out = inspect(&[], &input);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "[alive] node1.example.net: server version 0.29.4\n"
    );
    let stderr: Vec<&str> = text(&out.stderr).lines().collect();
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert_eq!(
        stderr[0],
        "stdin line 3: unknown protocol 'io.choria.lifecycle.v1.bogus'"
    );
    assert!(
        stderr[1].starts_with("stdin line 4: not valid JSON: "),
        "{}",
        stderr[1]
    );
}

#[test]
fn json_errors_are_objects_and_dash_reads_stdin() {
    let file = example("lifecycle/v1/shutdown.json");
    let out = inspect(
        &[
            "--json",
            file.to_str().unwrap(),
            "-",
            "/nonexistent/event.json",
        ],
        "[1,2]\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["display"], "[shutdown] node1.example.net: server");
    assert_eq!(
        lines[1],
        serde_json::json!({"file": "(standard input)", "ok": false, "error": "stdin line 1: expected a JSON object holding an event, found an array"})
    );
    assert_eq!(lines[2]["ok"], false);
    assert_eq!(lines[2]["file"], "/nonexistent/event.json");
    let error = lines[2]["error"].as_str().unwrap();
    assert!(
        error.starts_with("/nonexistent/event.json: cannot read: "),
        "{error}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = inspect(&["--no-such-flag"], "");
    assert_eq!(out.status.code(), Some(2));
}

/// Events from the wire may hold anything: what inspect prints holds no ESC, no CR and no
/// C1 control, one line per input, the control characters escaped as Rust writes them.
#[test]
fn control_characters_in_events_and_errors_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let alive = |identity: &str, version: &str| {
        String::from_utf8(common::hostile_alive(identity, version)).unwrap()
    };
    let inputs = [
        ("clear.json", alive("\u{1b}[2J", "0.29.4")),
        ("forged.json", alive("web2\r\n[alive] forged", "0.29.4")),
        ("c1.json", alive("web3\u{9b}31m", "0.29.4\u{202e}")),
        (
            "protocol.json",
            r#"{"protocol":"io.choria.lifecycle.v1.\u001b]0;pwned\u0007\r\nforged"}"#.to_owned(),
        ),
        ("bad\n[alive] forged.json", "not json".to_owned()),
    ];
    let mut args = Vec::new();
    for (name, content) in &inputs {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        args.push(path.to_str().unwrap().to_owned());
    }
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.insert(0, "--no-filename");
    let out = inspect(&args, "");
    assert_eq!(out.status.code(), Some(1));
    for stream in [&out.stdout, &out.stderr] {
        assert!(!stream.contains(&0x1b), "{:?}", text(stream));
        assert!(!stream.contains(&b'\r'), "{:?}", text(stream));
        assert!(!text(stream).contains('\u{9b}'), "{:?}", text(stream));
    }
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        [
            r"[alive] \x1b[2J: server version 0.29.4",
            r"[alive] web2\r\n[alive] forged: server version 0.29.4",
            r"[alive] web3\u{9b}31m: server version 0.29.4\u{202e}",
        ]
    );
    let dir = dir.path().display();
    let stderr: Vec<&str> = text(&out.stderr).lines().collect();
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert_eq!(
        stderr[0],
        format!(
            r"{dir}/protocol.json: unknown protocol 'io.choria.lifecycle.v1.\x1b]0;pwned\x07\r\nforged'"
        )
    );
    let bad_name = format!(r"{dir}/bad\n[alive] forged.json: not valid JSON");
    assert!(stderr[1].starts_with(&bad_name), "{}", stderr[1]);
}
