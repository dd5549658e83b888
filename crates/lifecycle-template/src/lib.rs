//! Templates over events (minijinja), with one context for every command that renders them:
//! `react`'s `exec` arguments, `view --template` and OpenSVC's model of waiting for anything
//! the flags cannot say (`wait --template`).
//!
//! A template sees ([`context`]) the event's fields as Choria writes them (`identity`,
//! `component`, `version`, `new_version`, `timestamp`, `id`, `protocol`, `governor`, a machine
//! event's `machine`, `name`, `type`...), and besides them:
//! - `type`: the event's type (`startup` ... `upgraded`, `transition`, `state`); a watcher
//!   state's own `type` (the watcher kind) wins;
//! - `type_name`: the event's type, always;
//! - `format`: how it arrived, `choria` or `cloudevents`;
//! - `subject`: the subject it arrived on;
//! - `display`: its display line.
//!
//! An event member of one of these names wins over it. Besides minijinja's builtins
//! (`split`, `in`, `is startingwith`, ...), the string helpers of OpenSVC's event templates
//! are there: `has_prefix(s, prefix)`, `has_suffix(s, suffix)` and `contains(s, substring)`
//! (OpenSVC's `stringsHasPrefix`, `stringsHasSuffix`, `stringsContains`).
//!
//! Where the output goes decides the rest ([`Output`]): to a terminal, values from the event
//! are written with control characters escaped ([`TerminalSafe`]) and the template's own
//! text as it is; as a program's argument, nothing is escaped (no shell reads it) and a field
//! the event lacks is an error, never an empty argument.
//!
//! A [`PassTemplate`] adds OpenSVC's wait functions, `pass_set`, `pass_add`, `pass_del`,
//! `pass_count` and `set_success`, with their meaning.
//!
//! OpenSVC's "object avail is up on 3 objects", on our events, "3 nodes run 0.30.0":
//!
//! ```text
//! {% if pass_set(identity, version == "0.30.0") %}{% if set_success(pass_count() == 3) %}{% endif %}{% endif %}
//! ```

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use lifecycle_core::terminal::TerminalSafe;
use lifecycle_nats::Received;
use minijinja::value::{Value, merge_maps};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, context as fields};

const NAME: &str = "template";

/// Where a template's output goes, which decides how values are written and what a field
/// the event lacks does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// A terminal: values from the event are escaped; a missing field renders empty.
    Terminal,
    /// A program's argument: nothing is escaped (no shell reads it), and a missing field is
    /// an error (a typo must not become an empty argument).
    Argument,
}

/// An environment for templates whose output goes to `output`, with OpenSVC's string
/// helpers.
pub fn environment(output: Output) -> Environment<'static> {
    let mut env = Environment::new();
    match output {
        // Values from the event are escaped; the template's own text (a tab, a newline the
        // user wrote) is not.
        Output::Terminal => env.set_formatter(|out, _state, value| {
            write!(out, "{}", TerminalSafe(value)).map_err(Error::from)
        }),
        Output::Argument => env.set_undefined_behavior(UndefinedBehavior::Strict),
    }
    env.add_function("has_prefix", |s: String, prefix: String| {
        s.starts_with(&prefix)
    });
    env.add_function("has_suffix", |s: String, suffix: String| {
        s.ends_with(&suffix)
    });
    env.add_function("contains", |s: String, substring: String| {
        s.contains(&substring)
    });
    env
}

/// What a template sees of a received event (see the crate's documentation): its fields as
/// Choria writes them, then `type`, `type_name`, `format`, `subject` and `display`, an
/// event member of the same name winning. Built straight from the event, once for all the
/// templates that render it.
pub fn context(received: &Received) -> Value {
    let event = received.parsed.event();
    let type_name = event.type_name();
    // The last of merged maps wins: the event's own members.
    merge_maps([
        fields! {
            type => type_name,
            type_name => type_name,
            format => received.parsed.format().as_str(),
            subject => received.subject.as_str(),
            display => event.to_string(),
        },
        Value::from_serialize(event),
    ])
}

/// A template rendered for each event to a terminal (`view --template`), seeing the
/// [`context`], its values escaped.
#[derive(Debug)]
pub struct EventTemplate {
    env: Environment<'static>,
}

impl EventTemplate {
    /// Compiles `source`.
    pub fn new(source: &str) -> Result<EventTemplate, Error> {
        let mut env = environment(Output::Terminal);
        env.add_template_owned(NAME, source.to_owned())?;
        Ok(EventTemplate { env })
    }

    /// Renders it for `received`.
    pub fn render(&self, received: &Received) -> Result<String, Error> {
        self.env.get_template(NAME)?.render(context(received))
    }
}

/// What the wait functions of a [`PassTemplate`] keep between events.
#[derive(Debug, Default)]
struct Passes {
    passed: BTreeSet<String>,
    success: bool,
}

/// OpenSVC's waiting model: a template rendered for each event, whose wait functions decide
/// when the wait succeeds, with the meaning OpenSVC gives them (`om node events --wait
/// --template`):
/// - `pass_set(key, condition)` adds `key` to the passed set when `condition` is true and
///   *removes* it when false; returns whether the set changed (`passSet`);
/// - `pass_add(key)`, `pass_del(key)`: one or the other, returning whether the set changed
///   (`passAdd`, `passDel`);
/// - `pass_count()`: how many keys passed (`passCount`);
/// - `set_success(condition)`: the wait succeeds once an event's rendering leaves it true;
///   returns `condition` (`setSuccess`).
///
/// The string helpers and the event's fields are there as for an [`EventTemplate`].
///
/// ```
/// use lifecycle_template::PassTemplate;
///
/// let template = PassTemplate::new(
///     r#"{% if pass_set(identity, version == "0.30.0") %}{{ set_success(pass_count() == 2) }}{% endif %}"#,
/// ).unwrap();
/// assert!(!template.success());
/// ```
#[derive(Debug)]
pub struct PassTemplate {
    env: Environment<'static>,
    passes: Arc<Mutex<Passes>>,
}

impl PassTemplate {
    /// Compiles `source` with the wait functions.
    pub fn new(source: &str) -> Result<PassTemplate, Error> {
        let passes = Arc::new(Mutex::new(Passes::default()));
        let mut env = environment(Output::Terminal);
        let state = passes.clone();
        env.add_function("pass_set", move |key: Value, condition: Value| {
            let key = key_of("pass_set", &key)?;
            let mut passes = lock(&state);
            Ok::<_, Error>(if condition.is_true() {
                passes.passed.insert(key)
            } else {
                passes.passed.remove(&key)
            })
        });
        let state = passes.clone();
        env.add_function("pass_add", move |key: Value| {
            let key = key_of("pass_add", &key)?;
            Ok::<_, Error>(lock(&state).passed.insert(key))
        });
        let state = passes.clone();
        env.add_function("pass_del", move |key: Value| {
            let key = key_of("pass_del", &key)?;
            Ok::<_, Error>(lock(&state).passed.remove(&key))
        });
        let state = passes.clone();
        env.add_function("pass_count", move || lock(&state).passed.len());
        let state = passes.clone();
        env.add_function("set_success", move |condition: Value| {
            let success = condition.is_true();
            lock(&state).success = success;
            success
        });
        env.add_template_owned(NAME, source.to_owned())?;
        Ok(PassTemplate { env, passes })
    }

    /// Renders the template for `received`, which may change the passed keys and success.
    pub fn render(&self, received: &Received) -> Result<String, Error> {
        self.env.get_template(NAME)?.render(context(received))
    }

    /// Whether the last `set_success` was given a true condition.
    pub fn success(&self) -> bool {
        lock(&self.passes).success
    }

    /// How many keys passed.
    pub fn pass_count(&self) -> usize {
        lock(&self.passes).passed.len()
    }

    /// The keys passed, in order.
    pub fn passed(&self) -> Vec<String> {
        lock(&self.passes).passed.iter().cloned().collect()
    }
}

/// The passes, whatever a panic elsewhere left: they are plain data.
fn lock(passes: &Mutex<Passes>) -> std::sync::MutexGuard<'_, Passes> {
    passes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A key as text: a string as it is, a number or a boolean as written; nothing else.
fn key_of(function: &str, key: &Value) -> Result<String, Error> {
    if key.is_undefined() || key.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{function} needs a key, got {}", key.kind()),
        ));
    }
    Ok(match key.as_str() {
        Some(text) => text.to_owned(),
        None => key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use lifecycle_core::{Event, EventType, Format};

    use super::*;

    fn received(event_type: EventType, identity: &str, version: Option<&str>) -> Received {
        let mut builder = Event::builder(event_type)
            .identity(identity)
            .component("server")
            .timestamp(1_700_000_000);
        if let Some(version) = version {
            builder = builder.version(version);
        }
        Received::of(&builder.build().unwrap().into()).unwrap()
    }

    fn alive(identity: &str, version: &str) -> Received {
        received(EventType::Alive, identity, Some(version))
    }

    /// OpenSVC's "object avail is up on 3 objects", as "3 nodes run 0.30.0": events in, then
    /// the passed keys, success, and what the template wrote.
    #[test]
    fn three_nodes_up_as_opensvc_documents_it() {
        let template = PassTemplate::new(
            r#"{% if pass_set(identity, version == "0.30.0") %}{% if set_success(pass_count() == 3) %}{% endif %}{{ identity }} {{ pass_count() }}{% endif %}"#,
        )
        .unwrap();
        let steps: [(&str, &str, &[&str], bool, &str); 7] = [
            ("n1", "0.30.0", &["n1"], false, "n1 1"),
            ("n2", "0.30.0", &["n1", "n2"], false, "n2 2"),
            // Nothing changed: the template writes nothing and success is left as it was.
            ("n2", "0.30.0", &["n1", "n2"], false, ""),
            ("n3", "0.29.4", &["n1", "n2"], false, ""),
            ("n3", "0.30.0", &["n1", "n2", "n3"], true, "n3 3"),
            // One goes back: it is removed, and success turns false again.
            ("n2", "0.29.4", &["n1", "n3"], false, "n2 2"),
            ("n2", "0.30.0", &["n1", "n2", "n3"], true, "n2 3"),
        ];
        for (identity, version, passed, success, written) in steps {
            let output = template.render(&alive(identity, version)).unwrap();
            assert_eq!(output, written, "{identity} {version}");
            assert_eq!(template.passed(), passed, "{identity} {version}");
            assert_eq!(template.pass_count(), passed.len());
            assert_eq!(template.success(), success, "{identity} {version}");
        }
    }

    #[test]
    fn functions_return_what_opensvc_returns() {
        let template = PassTemplate::new(
            "{{ pass_add(identity) }} {{ pass_add(identity) }} {{ pass_del(identity) }} \
             {{ pass_del(identity) }} {{ pass_set(1, true) }} {{ pass_count() }} \
             {{ set_success(false) }} {{ set_success(pass_count()) }}",
        )
        .unwrap();
        assert_eq!(
            template.render(&alive("n1", "1")).unwrap(),
            "True False True False True 1 False True"
        );
        assert_eq!(template.passed(), ["1"]);
        assert!(template.success());
        let template = PassTemplate::new("{{ pass_set(nothing, true) }}").unwrap();
        let error = template.render(&alive("n1", "1")).unwrap_err();
        assert_eq!(error.detail(), Some("pass_set needs a key, got undefined"));
    }

    #[test]
    fn string_helpers_and_the_context() {
        let template = EventTemplate::new(
            "{{ has_prefix(identity, 'web') }} {{ has_suffix(identity, '.net') }} \
             {{ contains(identity, 'b1') }} {{ (identity | split('.'))[0] }} {{ format }} \
             {{ subject }} {{ type }} {{ type_name }} {{ display }}",
        )
        .unwrap();
        let received = alive("web1.example.net", "0.30.0");
        assert_eq!(received.parsed.format(), Format::Choria);
        assert_eq!(
            template.render(&received).unwrap(),
            "True True True web1 choria choria.lifecycle.event.alive.server alive alive \
             [alive] web1.example.net: server version 0.30.0"
        );
        let shutdown = received_shutdown();
        assert_eq!(
            EventTemplate::new("{{ version }}|{{ identity }}")
                .unwrap()
                .render(&shutdown)
                .unwrap(),
            "|n\\x1b1"
        );
    }

    /// An argument's template: the event, then the names beside it, nothing escaped, and a
    /// field the event lacks an error.
    #[test]
    fn an_argument_sees_the_event_then_type_format_subject_and_display() {
        let render = |source: &str, json: &str, subject: &str| {
            let received = Received::parse(subject.to_owned(), json.as_bytes().to_vec()).unwrap();
            let mut env = environment(Output::Argument);
            env.add_template("t", source).unwrap();
            env.get_template("t").unwrap().render(context(&received))
        };
        let startup = r#"{"protocol":"io.choria.lifecycle.v1.startup","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000001","identity":"node1.example.net","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;
        assert_eq!(
            render(
                "{{ identity }} {{ type }} {{ type_name }} {{ format }} {{ timestamp }} {{ subject }} | {{ display }}",
                startup,
                "choria.lifecycle.event.startup.server"
            )
            .unwrap(),
            "node1.example.net startup startup choria 1700000000 choria.lifecycle.event.startup.server | [startup] node1.example.net: server version 0.29.4"
        );
        let state = r#"{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"node1.example.net","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000030","version":"1.0.0","timestamp":1700000000,"type":"exec","machine":"backup","name":"run_backup","command":"/usr/local/bin/backup.sh","previous_outcome":"success","previous_run_time":1500000000}"#;
        assert_eq!(
            render(
                "{{ type }} {{ type_name }} {{ machine }}",
                state,
                "choria.machine.watcher.exec.state"
            )
            .unwrap(),
            "exec state backup",
            "the event's own type wins"
        );
        let shutdown = r#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"n\u001b1","component":"server","timestamp":1700000000}"#;
        let subject = "choria.lifecycle.event.shutdown.server";
        assert_eq!(
            render("{{ identity }}", shutdown, subject).unwrap(),
            "n\u{1b}1"
        );
        let error = render("{{ version }}", shutdown, subject).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UndefinedError);
    }

    /// A shutdown from an identity holding ESC, as an attacker would publish it.
    fn received_shutdown() -> Received {
        let payload = br#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"n\u001b1","component":"server","timestamp":1700000000}"#;
        Received::parse("choria.lifecycle.event.shutdown.server", &payload[..]).unwrap()
    }
}
