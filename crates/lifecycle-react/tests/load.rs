//! `Rules::load` on files: a good file becomes its rules with their lines and actions; a bad
//! one is refused with every problem, each naming its line and rule, in file order.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lifecycle_core::KeyBy;
use lifecycle_react::{Action, DEFAULT_MAX_ATTEMPTS, ErrorKind, Problem, Rules};

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn problems(path: &Path) -> Vec<Problem> {
    match Rules::load(path) {
        Err(error) => match error.kind() {
            ErrorKind::RulesInvalid { path: at, problems } => {
                assert_eq!(at, path);
                problems.clone()
            }
            other => panic!("expected problems, got {other:?}"),
        },
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_good_file_loads_every_rule_with_its_line_and_action() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        r#"# provisioning, then telling CD
[[rules]]
name = "provision"
filter = "startup,component=provision_mode_server"
exec = ["/usr/local/bin/provision", "--node", "{{ identity }}"]
concurrency = 10
key = "identity+component"
timeout = "2m"
dedupe = "10m"
dead_letter = "lifecycle.dead.provision"

[[rules]]
name = "notify-cd"
filter = "upgraded,component=server"
http = { url = "https://cd.example.net/hooks/choria", mode = "structured" }
max_attempts = 0
"#,
    );
    let rules = Rules::load(&path).unwrap();
    assert_eq!(rules.path, path);
    let names: Vec<(&str, usize)> = rules
        .rules
        .iter()
        .map(|rule| (rule.name.as_str(), rule.line))
        .collect();
    assert_eq!(names, [("provision", 2), ("notify-cd", 12)]);
    let (provision, notify) = (&rules.rules[0], &rules.rules[1]);
    assert!(matches!(provision.action, Action::Exec(_)));
    assert_eq!(provision.concurrency, 10);
    assert_eq!(provision.key, Some(KeyBy::IdentityComponent));
    assert_eq!(provision.max_attempts, Some(DEFAULT_MAX_ATTEMPTS));
    assert_eq!(provision.dedupe, Some(Duration::from_secs(600)));
    assert_eq!(
        provision.dead_letter.as_deref(),
        Some("lifecycle.dead.provision")
    );
    let Action::Http(post) = &notify.action else {
        panic!("notify-cd posts")
    };
    assert_eq!(post.forwarder().mode().as_str(), "structured");
    assert_eq!(notify.max_attempts, None, "0 is no limit");
    assert_eq!(notify.concurrency, 1);
    assert_eq!(notify.key, Some(KeyBy::Identity));
}

#[test]
fn every_problem_is_reported_with_its_rule_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        r#"[[rules]]
name = "provision"
filter = "startup,version>>1"
exec = ["/usr/local/bin/provision", "{{ identity"]

[[rules]]
name = "provision"
filter = "upgraded"
http = { url = "ftp://cd.example.net/", mode = "binary" }
timeout = "2 minutes"

[[rules]]
name = "a.b"
filter = "alive"
exec = ["{{ identity }}"]
key = "node"
dedupe = "10m"
dead_letter = "choria.lifecycle.dead"
concurrency = 0

[[rules]]
filter = "shutdown"
"#,
    );
    let found = problems(&path);
    let rule = |name: &str| Some(name.to_owned());
    // (line, rule, the start of the message): the exact text of a filter's, a template's
    // and a duration's message belongs to the crates that make it.
    let expected: [(usize, Option<String>, &str); 12] = [
        (3, rule("'provision'"), "filter: "),
        (4, rule("'provision'"), "exec[1]: invalid template: "),
        (
            7,
            rule("'provision'"),
            "the name is used twice (first on line 2)",
        ),
        (
            9,
            rule("'provision'"),
            "http.url: invalid receiver URL: unknown scheme 'ftp' (expected http:// or https://)",
        ),
        (10, rule("'provision'"), "timeout: "),
        (13, rule("'a.b'"), "invalid rule name 'a.b': "),
        (
            15,
            rule("'a.b'"),
            "exec[0]: the program cannot be a template: an event must never choose what runs",
        ),
        (
            16,
            rule("'a.b'"),
            "key: unknown key 'node' (use identity, component, identity+component, none)",
        ),
        (
            18,
            rule("'a.b'"),
            "dead-letter subject \"choria.lifecycle.dead\" is where events are published: they would be received again",
        ),
        (
            19,
            rule("'a.b'"),
            "concurrency: must be from 1 to 10000, not 0",
        ),
        (21, rule("#4"), "no name: every rule needs name = \"...\""),
        (
            21,
            rule("#4"),
            "no action: give exec = [\"/path/to/program\", \"{{ identity }}\"] or http = { url = \"...\" }",
        ),
    ];
    assert_eq!(
        found.len(),
        expected.len(),
        "{:#?}",
        found.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    for (problem, (line, rule, message)) in found.iter().zip(&expected) {
        assert_eq!((problem.line, &problem.rule), (*line, rule), "{problem}");
        assert!(
            problem.message.starts_with(message),
            "{:?} should start with {message:?}",
            problem.message
        );
        // Exact where the message is entirely ours.
        if !message.ends_with(": ") {
            assert_eq!(problem.message, *message);
        }
    }
    // The error prints every one, each with the file and its line.
    let error = Rules::load(&path).unwrap_err().to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines[0], "12 problems in the rules file");
    assert_eq!(lines.len(), 13);
    for (line, problem) in lines[1..].iter().zip(&found) {
        assert_eq!(*line, format!("{}:{problem}", path.display()));
    }
    assert_eq!(
        lines[3],
        format!(
            "{}:7: rule 'provision': the name is used twice (first on line 2)",
            path.display()
        )
    );
}

#[test]
fn a_file_toml_cannot_read_is_one_problem_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[[rules]]\nname = \"x\"\nfilter = \"alive\"\nexec = [\"/bin/true\"]\nconcurency = 3\n",
    );
    let found = problems(&path);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 5);
    assert_eq!(found[0].rule, None);
    assert!(
        found[0].message.starts_with("unknown field `concurency`"),
        "{}",
        found[0].message
    );

    let path = write(&dir, "# nothing yet\n");
    assert_eq!(
        problems(&path),
        [Problem {
            line: 1,
            rule: None,
            message: "no rules: add at least one [[rules]] table".into()
        }]
    );
}

#[test]
fn a_missing_file_is_unreadable_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let error = Rules::load(&path).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::RulesUnreadable { path: at } if *at == path));
    assert!(
        std::error::Error::source(&error)
            .unwrap()
            .is::<std::io::Error>()
    );
    assert!(
        lifecycle_core::ErrorChain(&error)
            .to_string()
            .starts_with(&format!("cannot read the rules file {}: ", path.display())),
        "{error}"
    );
}
