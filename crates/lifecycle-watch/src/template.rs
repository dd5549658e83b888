//! Templates over events (minijinja): what `view --template` renders, and OpenSVC's model of
//! waiting for anything the flags cannot say (`wait --template`).
//!
//! Every template sees the event's Choria-format fields (`identity`, `component`,
//! `version`, ...) and `format`, `subject`, `display`, `type_name`; values from the event are
//! written with control characters escaped ([`TerminalSafe`]), the template's own text as
//! it is. Besides minijinja's builtins (`split`, `in`, `is startingwith`, ...), the string
//! helpers of OpenSVC's event templates are there: `has_prefix(s, prefix)`,
//! `has_suffix(s, suffix)` and `contains(s, substring)` (OpenSVC's `stringsHasPrefix`,
//! `stringsHasSuffix`, `stringsContains`).
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
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

const NAME: &str = "template";

/// An environment whose output escapes values from events, with OpenSVC's string helpers.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Values from the event are escaped; the template's own text (a tab, a newline the user
    // wrote) is not.
    env.set_formatter(|out, _state, value| {
        write!(out, "{}", TerminalSafe(value)).map_err(Error::from)
    });
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

/// What a template sees of a received event: its Choria-format fields, then `format`,
/// `subject`, `display` and `type_name` (an event member of the same name wins).
pub fn event_context(received: &Received) -> Result<Value, serde_json::Error> {
    let event = received.parsed.event();
    let mut context = serde_json::to_value(event)?;
    if let Some(fields) = context.as_object_mut() {
        let extra = [
            ("format", received.parsed.format().as_str().to_owned()),
            ("subject", received.subject.to_string()),
            ("display", event.to_string()),
            ("type_name", event.type_name().to_owned()),
        ];
        for (key, value) in extra {
            fields.entry(key).or_insert(value.into());
        }
    }
    Ok(Value::from_serialize(&context))
}

/// A template rendered for each event (`view --template`). It sees the event's
/// Choria-format fields and `format`, `subject`, `display`, `type_name` ([`event_context`]);
/// values from the event are written with control characters escaped, the template's own
/// text as it is. Besides minijinja's builtins, OpenSVC's string helpers are there:
/// `has_prefix(s, prefix)`, `has_suffix(s, suffix)`, `contains(s, substring)`.
#[derive(Debug)]
pub struct EventTemplate {
    env: Environment<'static>,
}

impl EventTemplate {
    /// Compiles `source`.
    pub fn new(source: &str) -> Result<EventTemplate, Error> {
        let mut env = environment();
        env.add_template_owned(NAME, source.to_owned())?;
        Ok(EventTemplate { env })
    }

    /// Renders it for `received`.
    pub fn render(&self, received: &Received) -> Result<String, Error> {
        render(&self.env, received)
    }
}

fn render(env: &Environment<'static>, received: &Received) -> Result<String, Error> {
    let context = event_context(received).map_err(|e| {
        Error::new(
            ErrorKind::BadSerialization,
            "the event cannot be a template context",
        )
        .with_source(e)
    })?;
    env.get_template(NAME)?.render(context)
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
/// use lifecycle_watch::PassTemplate;
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
        let mut env = environment();
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
        render(&self.env, received)
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
        lifecycle_testsupport::received(&builder.build().unwrap())
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
             {{ subject }} {{ type_name }} {{ display }}",
        )
        .unwrap();
        let received = alive("web1.example.net", "0.30.0");
        assert_eq!(received.parsed.format(), Format::Choria);
        assert_eq!(
            template.render(&received).unwrap(),
            "True True True web1 choria choria.lifecycle.event.alive.server alive \
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

    /// A shutdown from an identity holding ESC, as an attacker would publish it.
    fn received_shutdown() -> Received {
        let payload = br#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"n\u001b1","component":"server","timestamp":1700000000}"#;
        Received {
            subject: "choria.lifecycle.event.shutdown.server".into(),
            parsed: lifecycle_core::parse(payload).unwrap(),
            payload: payload.to_vec().into(),
            stream_sequence: None,
            pending: None,
            stored: None,
        }
    }
}
