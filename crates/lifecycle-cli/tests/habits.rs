//! What a shell user expects of a command-line tool: one-line summaries in `--help`,
//! completions that offer every enumerated value, Choria's defaults.

use std::process::{Command, Output, Stdio};

use lifecycle_testsupport::NatsServer;

fn lifecycle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn help_lists_each_command_on_one_line() {
    let help = stdout(&lifecycle(&["--help"]));
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    assert!(commands.len() >= 10, "{help}");
    for line in &commands {
        // A continuation would start with blanks where the name stands.
        assert!(
            line.starts_with("  ") && !line.starts_with("   "),
            "{line:?}\n{help}"
        );
        assert!(line.len() <= 100, "{line:?}");
    }
}

#[test]
fn completions_offer_every_enumerated_value() {
    let bash = stdout(&lifecycle(&["completions", "bash"]));
    for values in [
        // emit's TYPE, among emit's words
        "startup shutdown provisioned alive governor upgraded",
        // --format
        "compgen -W \"choria cloudevents\"",
        // emit --governor-event
        "compgen -W \"enter exit timeouts eviction\"",
        // view --type: the filter language's type elements
        "compgen -W \"startup shutdown provisioned alive governor upgraded transition state\"",
        // forward --mode
        "compgen -W \"binary structured\"",
        // --color
        "compgen -W \"auto always never\"",
    ] {
        assert!(
            bash.contains(values),
            "no {values:?} in the bash completions"
        );
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&lifecycle(&["completions", shell]));
        assert!(script.contains("cloudevents"), "{shell}");
        assert!(script.contains("eviction"), "{shell}");
    }
}

#[test]
fn an_enumerated_value_that_is_not_one_lists_them() {
    let out = lifecycle(&["emit", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "[possible values: startup, shutdown, provisioned, alive, governor, upgraded]"
        ),
        "{stderr}"
    );
}

#[test]
fn emit_governor_defaults_the_sequence_to_zero_as_choria_does() {
    let server = NatsServer::start();
    let out = lifecycle(&[
        "emit",
        "governor",
        "--identity",
        "n1.example.net",
        "--component",
        "server",
        "--governor",
        "PUPPET",
        "--governor-event",
        "enter",
        "--json",
        "--server",
        &server.url(),
    ]);
    let event: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(event["sequence"], 0);
    assert_eq!(event["event_type"], "enter");
}
