//! Colour only where a person reads it: logs and output carry ANSI escapes on a terminal,
//! never into pipes and files, never with `NO_COLOR`, and as `--color` says.

use std::process::{Command, Output, Stdio};

/// Logs at trace (async-nats' own lines too), about a connection that fails at once: some
/// lines on stderr, quickly.
const ARGS: [&str; 5] = [
    "view",
    "--server",
    "nats://127.0.0.1:1",
    "-vvv",
    "--timeout=1s",
];

fn lifecycle(extra: &[&str], no_color: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
    command.args(ARGS).args(extra);
    environment(command, no_color)
}

/// `command` with nothing from the environment that would change it, and `NO_COLOR` set to
/// `no_color` if given.
fn environment(mut command: Command, no_color: Option<&str>) -> Command {
    command
        .env_remove("RUST_LOG")
        .env_remove("NATS_URL")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    command
}

/// Everything the command wrote to stderr through a pipe.
fn piped(extra: &[&str], no_color: Option<&str>) -> Vec<u8> {
    let out = lifecycle(extra, no_color).output().unwrap();
    assert!(!out.stderr.is_empty());
    out.stderr
}

/// Everything the command wrote, with a terminal for its stdin, stdout and stderr (util-linux
/// `script` provides one).
fn on_a_terminal(extra: &[&str], no_color: Option<&str>) -> Vec<u8> {
    let mut line = format!("exec {}", env!("CARGO_BIN_EXE_lifecycle"));
    for arg in ARGS.iter().chain(extra) {
        line.push(' ');
        line.push_str(arg);
    }
    let mut command = Command::new("script");
    command.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
    let out: Output = environment(command, no_color).output().unwrap_or_else(|e| {
        panic!("util-linux `script` is needed to give the command a terminal: {e}")
    });
    assert!(
        !out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn has_escape(bytes: &[u8]) -> bool {
    bytes.contains(&0x1b)
}

#[test]
fn logs_into_a_pipe_have_no_escape() {
    assert!(!has_escape(&piped(&[], None)));
    assert!(!has_escape(&piped(&["--color", "auto"], None)));
    assert!(!has_escape(&piped(&["--color", "never"], None)));
}

#[test]
fn always_colours_even_a_pipe() {
    assert!(has_escape(&piped(&["--color", "always"], None)));
}

#[test]
fn a_terminal_gets_colour_unless_no_color_or_never() {
    assert!(has_escape(&on_a_terminal(&[], None)));
    assert!(!has_escape(&on_a_terminal(&[], Some("1"))));
    // An empty NO_COLOR does not count (https://no-color.org).
    assert!(has_escape(&on_a_terminal(&[], Some(""))));
    assert!(!has_escape(&on_a_terminal(&["--color", "never"], None)));
    // An explicit choice wins over NO_COLOR.
    assert!(has_escape(&on_a_terminal(
        &["--color", "always"],
        Some("1")
    )));
}
