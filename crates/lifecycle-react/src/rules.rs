//! The rules file: named rules, each a filter and one action, checked whole before anything
//! runs.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lifecycle_cloudevents::{Forwarder, Mode, REQUEST_TIMEOUT};
use lifecycle_core::duration;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_core::{Filter, KeyBy, check_subject_token};
use lifecycle_nats::DeadLetters;
use serde::Deserialize;
use toml::Spanned;

use crate::action::Action;
use crate::error::{Error, ErrorKind, Problem};
use crate::exec::Exec;
use crate::http::Post;
use lifecycle_template::{Output, environment};

/// How long an `exec` program may run unless its rule says otherwise.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Attempts per event unless a rule says otherwise (0 in a rule: no limit).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The most handlers one rule may run at once.
pub const MAX_CONCURRENCY: i64 = 10_000;

/// A rule, checked: ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name: unique, a NATS subject token (it names the rule's durable consumer).
    pub name: String,
    /// Which events it acts on.
    pub filter: Filter,
    /// What it does for each.
    pub action: Action,
    /// Handlers at once.
    pub concurrency: usize,
    /// Events with the same key run one at a time, in order; `None` (`key = "none"`): any
    /// event alongside any other.
    pub key: Option<KeyBy>,
    /// Attempts per event; `None`: no limit.
    pub max_attempts: Option<u32>,
    /// At most once per key within this window.
    pub dedupe: Option<Duration>,
    /// Where its dead letters go.
    pub dead_letter: Option<String>,
    /// The line of the file it starts on.
    pub line: usize,
}

/// A rules file, checked.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The file.
    pub path: PathBuf,
    /// Its rules, in file order.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    rules: Vec<Spanned<RuleSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Option<Spanned<String>>,
    filter: Option<Spanned<String>>,
    exec: Option<Spanned<Vec<Spanned<String>>>>,
    http: Option<Spanned<HttpSpec>>,
    concurrency: Option<Spanned<i64>>,
    key: Option<Spanned<String>>,
    max_attempts: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    dedupe: Option<Spanned<String>>,
    dead_letter: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSpec {
    url: Spanned<String>,
    mode: Option<Spanned<String>>,
}

impl Rules {
    /// Reads and checks the rules file at `path`.
    pub fn load(path: &Path) -> Result<Rules, Error> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            let kind = ErrorKind::RulesUnreadable {
                path: path.to_owned(),
            };
            Error::with_source(kind, error)
        })?;
        Rules::parse(&text, path)
    }

    /// Checks `text`, the contents of the rules file `path`: every problem is reported, each
    /// with its line and rule.
    pub fn parse(text: &str, path: &Path) -> Result<Rules, Error> {
        let invalid = |problems| {
            Error::new(ErrorKind::RulesInvalid {
                path: path.to_owned(),
                problems,
            })
        };
        let lines = Lines::new(text);
        let file: FileSpec = toml::from_str(text).map_err(|e| {
            invalid(vec![Problem {
                line: e.span().map_or(1, |span| lines.of(&span)),
                rule: None,
                message: e.message().trim().to_owned(),
            }])
        })?;
        let mut problems = Vec::new();
        if file.rules.is_empty() {
            problems.push(Problem {
                line: 1,
                rule: None,
                message: "no rules: add at least one [[rules]] table".into(),
            });
        }
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut rules = Vec::new();
        for (n, spec) in file.rules.into_iter().enumerate() {
            let line = lines.of(&spec.span());
            let mut check = Check {
                lines: &lines,
                rule: format!("#{}", n + 1),
                problems: &mut problems,
            };
            if let Some(name) = &spec.get_ref().name {
                check.rule = format!("'{}'", name.get_ref());
                if let Some(first) = names.get(name.get_ref()) {
                    check.problem(
                        name,
                        format!("the name is used twice (first on line {first})"),
                    );
                } else {
                    names.insert(name.get_ref().clone(), lines.of(&name.span()));
                }
            }
            if let Some(rule) = check.rule(spec.into_inner(), line) {
                rules.push(rule);
            }
        }
        if problems.is_empty() {
            Ok(Rules {
                path: path.to_owned(),
                rules,
            })
        } else {
            problems.sort_by_key(|p| p.line);
            Err(invalid(problems))
        }
    }
}

/// Line numbers of byte offsets.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Lines { starts }
    }

    fn of(&self, span: &Range<usize>) -> usize {
        self.starts
            .partition_point(|start| *start <= span.start)
            .max(1)
    }
}

/// Checks one rule, collecting its problems.
struct Check<'a> {
    lines: &'a Lines,
    rule: String,
    problems: &'a mut Vec<Problem>,
}

impl Check<'_> {
    fn problem<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        self.problem_at(self.lines.of(&at.span()), message);
    }

    fn problem_at(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            line,
            rule: Some(self.rule.clone()),
            message: message.into(),
        });
    }

    fn duration(&mut self, field: &str, value: &Option<Spanned<String>>) -> Option<Duration> {
        let value = value.as_ref()?;
        match duration::parse(value.get_ref()) {
            Ok(duration) if duration.is_zero() => {
                self.problem(value, format!("{field}: must be longer than 0"));
                None
            }
            Ok(duration) => Some(duration),
            Err(e) => {
                self.problem(value, format!("{field}: {e}"));
                None
            }
        }
    }

    fn rule(&mut self, spec: RuleSpec, line: usize) -> Option<Rule> {
        let before = self.problems.len();
        let name = match &spec.name {
            None => {
                self.problem_at(line, "no name: every rule needs name = \"...\"");
                String::new()
            }
            Some(name) => {
                if let Err(e) = check_subject_token("rule name", name.get_ref()) {
                    self.problem(
                        name,
                        format!("{e} (it names the rule's durable consumer, NAME-<rule>)"),
                    );
                } else if name.get_ref().contains(['/', '\\']) {
                    self.problem(
                        name,
                        "a rule name cannot hold '/' or '\\' (it names the rule's durable consumer)",
                    );
                }
                name.get_ref().clone()
            }
        };
        let filter = match &spec.filter {
            None => {
                self.problem_at(
                    line,
                    "no filter: say which events it acts on, e.g. filter = \"startup,component=server\" \
                     (filter = \"\" for every event)",
                );
                None
            }
            Some(text) => match Filter::parse(text.get_ref()) {
                Ok(filter) => Some(filter),
                Err(e) => {
                    self.problem(text, format!("filter: {e}"));
                    None
                }
            },
        };
        let timeout = self.duration("timeout", &spec.timeout);
        let dedupe = self.duration("dedupe", &spec.dedupe);
        let concurrency = match &spec.concurrency {
            None => 1,
            Some(n) if (1..=MAX_CONCURRENCY).contains(n.get_ref()) => {
                usize::try_from(*n.get_ref()).unwrap_or(1)
            }
            Some(n) => {
                self.problem(
                    n,
                    format!(
                        "concurrency: must be from 1 to {MAX_CONCURRENCY}, not {}",
                        n.get_ref()
                    ),
                );
                1
            }
        };
        let max_attempts = match &spec.max_attempts {
            None => Some(DEFAULT_MAX_ATTEMPTS),
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(
                        n,
                        format!(
                            "max_attempts: must be from 0 (no limit) to {}, not {}",
                            u32::MAX,
                            n.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        let key = match spec
            .key
            .as_ref()
            .map(|text| (text, text.get_ref().as_str()))
        {
            None => Some(KeyBy::Identity),
            Some((_, "none")) => None,
            Some((text, name)) => Some(name.parse().unwrap_or_else(|_| {
                self.problem(
                    text,
                    format!(
                        "key: unknown key '{}' (use {}, none)",
                        TerminalSafe(name),
                        KeyBy::NAMES.join(", ")
                    ),
                );
                KeyBy::Identity
            })),
        };
        if let (None, Some(window)) = (key, &spec.dedupe) {
            self.problem(
                window,
                "dedupe: needs a key (events are acted on at most once per key); key = \"none\" has none",
            );
        }
        let dead_letter = spec.dead_letter.as_ref().and_then(|subject| {
            match DeadLetters::check_subject(subject.get_ref()) {
                Ok(()) => Some(subject.get_ref().clone()),
                Err(e) => {
                    self.problem(subject, e.to_string());
                    None
                }
            }
        });
        let action = match (&spec.exec, &spec.http) {
            (Some(_), Some(http)) => {
                self.problem(http, "one action per rule: exec or http, not both");
                None
            }
            (None, None) => {
                self.problem_at(
                    line,
                    "no action: give exec = [\"/path/to/program\", \"{{ identity }}\"] or http = { url = \"...\" }",
                );
                None
            }
            (Some(argv), None) => self.exec(&name, argv, timeout),
            (None, Some(http)) => self.http(http, timeout),
        };
        if self.problems.len() > before {
            return None;
        }
        Some(Rule {
            name,
            filter: filter?,
            action: action?,
            concurrency,
            key,
            max_attempts,
            dedupe,
            dead_letter,
            line,
        })
    }

    fn exec(
        &mut self,
        rule: &str,
        argv: &Spanned<Vec<Spanned<String>>>,
        timeout: Option<Duration>,
    ) -> Option<Action> {
        if argv.get_ref().is_empty() {
            self.problem(argv, "exec: needs at least the program");
            return None;
        }
        let mut templates = environment(Output::Argument);
        let mut names = Vec::new();
        let mut ok = true;
        for (n, arg) in argv.get_ref().iter().enumerate() {
            let name = format!("exec[{n}]");
            if let Err(e) = templates.add_template_owned(name.clone(), arg.get_ref().clone()) {
                self.problem(
                    arg,
                    format!(
                        "exec[{n}]: invalid template: {}",
                        e.detail().unwrap_or(&e.to_string())
                    ),
                );
                ok = false;
            }
            names.push(name);
        }
        if let Some(program) = argv.get_ref().first() {
            let text = program.get_ref();
            if text.is_empty() {
                self.problem(program, "exec[0]: the program is empty");
                ok = false;
            } else if ["{{", "{%", "{#"].iter().any(|open| text.contains(open)) {
                self.problem(
                    program,
                    "exec[0]: the program cannot be a template: an event must never choose what runs",
                );
                ok = false;
            }
        }
        ok.then(|| {
            Action::Exec(Exec::new(
                rule,
                Arc::new(templates),
                names,
                timeout.unwrap_or(DEFAULT_EXEC_TIMEOUT),
            ))
        })
    }

    fn http(&mut self, http: &Spanned<HttpSpec>, timeout: Option<Duration>) -> Option<Action> {
        let spec = http.get_ref();
        let mode = match &spec.mode {
            None => Mode::Binary,
            Some(mode) => match mode.get_ref().parse::<Mode>() {
                Ok(mode) => mode,
                Err(e) => {
                    self.problem(mode, format!("http.mode: {e}"));
                    return None;
                }
            },
        };
        let timeout = timeout.unwrap_or(REQUEST_TIMEOUT);
        match Forwarder::with_timeout(spec.url.get_ref(), mode, timeout) {
            Ok(forwarder) => Some(Action::Http(Post::new(forwarder))),
            Err(e) => {
                self.problem(
                    &spec.url,
                    format!("http.url: {}", lifecycle_cloudevents::Failure::Permanent(e)),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_setting() {
        let text = r#"
[[rules]]
name = "provision"
filter = "startup,component=provision_mode_server"
exec = ["/usr/local/bin/provision", "--node", "{{ identity }}"]
concurrency = 10
key = "identity+component"
max_attempts = 0
timeout = "2m"
dedupe = "10m"
dead_letter = "lifecycle.dead.provision"

[[rules]]
name = "notify-cd"
filter = ""
http = { url = "https://cd.example.net/hooks/choria" }
"#;
        let rules = Rules::parse(text, Path::new("r.toml")).unwrap();
        let [provision, notify] = &rules.rules[..] else {
            panic!("two rules")
        };
        assert_eq!(provision.name, "provision");
        assert_eq!(provision.line, 2);
        assert_eq!(provision.concurrency, 10);
        assert_eq!(provision.key, Some(KeyBy::IdentityComponent));
        assert_eq!(provision.max_attempts, None);
        assert_eq!(provision.dedupe, Some(Duration::from_secs(600)));
        assert_eq!(
            provision.dead_letter.as_deref(),
            Some("lifecycle.dead.provision")
        );
        assert_eq!(notify.line, 13);
        assert_eq!(notify.concurrency, 1);
        assert_eq!(notify.key, Some(KeyBy::Identity));
        assert_eq!(notify.max_attempts, Some(DEFAULT_MAX_ATTEMPTS));
        assert_eq!(notify.dedupe, None);
        assert!(notify.filter.is_empty());
        let Action::Http(post) = &notify.action else {
            panic!("http")
        };
        assert_eq!(post.forwarder().mode(), Mode::Binary);
    }

    #[test]
    fn problems_name_their_line_and_rule() {
        let check = |text: &str| match Rules::parse(text, Path::new("r.toml")) {
            Err(error) => match error.kind() {
                ErrorKind::RulesInvalid { problems, .. } => {
                    problems.iter().map(ToString::to_string).collect::<Vec<_>>()
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(check(""), ["1: no rules: add at least one [[rules]] table"]);
        assert_eq!(
            check("[[rules]]\nfilter = \"alive\"\n"),
            [
                "1: rule #1: no name: every rule needs name = \"...\"",
                "1: rule #1: no action: give exec = [\"/path/to/program\", \"{{ identity }}\"] or http = { url = \"...\" }"
            ]
        );
        assert_eq!(
            check(
                "[[rules]]\nname = \"x\"\nfilter = \"alive\"\nkey = \"none\"\ndedupe = \"1m\"\nexec = [\"/bin/true\"]\nhttp = { url = \"http://h/\", mode = \"binary\" }\n"
            ),
            [
                "5: rule 'x': dedupe: needs a key (events are acted on at most once per key); key = \"none\" has none",
                "7: rule 'x': one action per rule: exec or http, not both"
            ]
        );
        assert_eq!(
            check("[[rules]]\nname = \"x\"\nfilter = \"alive\"\nexec = []\nmax_attempts = -1\n"),
            [
                "4: rule 'x': exec: needs at least the program",
                "5: rule 'x': max_attempts: must be from 0 (no limit) to 4294967295, not -1"
            ]
        );
        let error =
            Rules::parse("[[rules]]\nname = \"x\"\nnope\n", Path::new("r.toml")).unwrap_err();
        assert!(error.to_string().starts_with("r.toml:3: "), "{error}");
    }
}
