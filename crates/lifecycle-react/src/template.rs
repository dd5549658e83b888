//! Templates over an event's fields: each `exec` argument is one, rendered on its own.

use lifecycle_nats::Received;
use minijinja::value::{Value, merge_maps};
use minijinja::{Environment, UndefinedBehavior, context};

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
    let type_name = event.type_name();
    // A watcher state has its own `type` (the watcher kind): the event's field wins, as
    // the last of merged maps does. Built straight from the event, once for all the
    // templates that render it.
    merge_maps([
        context! {
            type => type_name,
            type_name => type_name,
            subject => received.subject.as_str(),
            display => event.to_string(),
        },
        Value::from_serialize(event),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, json: &str, subject: &str) -> String {
        let payload = json.as_bytes().to_vec();
        let received = Received {
            subject: subject.into(),
            parsed: lifecycle_core::parse(&payload).unwrap(),
            payload: payload.into(),
            stream_sequence: None,
            pending: None,
            stored: None,
        };
        let mut env = environment();
        env.add_template("t", source).unwrap();
        env.get_template("t")
            .unwrap()
            .render(context(&received))
            .unwrap()
    }

    #[test]
    fn a_template_sees_the_event_then_type_subject_and_display() {
        let startup = r#"{"protocol":"io.choria.lifecycle.v1.startup","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000001","identity":"node1.example.net","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;
        assert_eq!(
            render(
                "{{ identity }} {{ type }} {{ type_name }} {{ timestamp }} {{ subject }} | {{ display }}",
                startup,
                "choria.lifecycle.event.startup.server"
            ),
            "node1.example.net startup startup 1700000000 choria.lifecycle.event.startup.server | [startup] node1.example.net: server version 0.29.4"
        );
        let state = r#"{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"node1.example.net","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000030","version":"1.0.0","timestamp":1700000000,"type":"exec","machine":"backup","name":"run_backup","command":"/usr/local/bin/backup.sh","previous_outcome":"success","previous_run_time":1500000000}"#;
        assert_eq!(
            render(
                "{{ type }} {{ type_name }} {{ machine }}",
                state,
                "choria.machine.watcher.exec.state"
            ),
            "exec state backup",
            "the event's own type wins"
        );
    }
}
