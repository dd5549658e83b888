//! Templates over an event's fields: each `exec` argument is one, rendered on its own.

use lifecycle_nats::Received;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// The environment argument templates live in: a field the event does not have is an
/// error (a typo must not become an empty argument), and nothing is escaped (arguments go
/// to a program, never through a shell).
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// What a template sees: the event's fields as Choria writes them (`identity`,
/// `component`, `version`, `timestamp`, `id`, `protocol`...), and `type` (startup ...
/// upgraded, transition, state), `subject` (where it arrived) and `display` (its display
/// line).
pub fn context(received: &Received) -> Value {
    let event = received.parsed.event();
    let mut context = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(fields) = context.as_object_mut() {
        // A watcher state has its own `type` (the watcher kind): the event's field wins.
        let extra = [
            ("type", event.type_name().to_owned()),
            ("type_name", event.type_name().to_owned()),
            ("subject", received.subject.to_string()),
            ("display", event.to_string()),
        ];
        for (key, value) in extra {
            fields.entry(key).or_insert(value.into());
        }
    }
    context
}
