//! The typed errors of parsing and building, with their exact messages, and the inputs that
//! must be accepted: the legacy protocol spelling, CloudEvents extensions, `data_base64`,
//! machine events in both formats, and the display lines of every Governor stage.

mod common;

use common::Members;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use lifecycle_core::{
    AnyEvent, ErrorKind, Event, EventKind, EventType, Format, GovernorEventType, MachineEvent,
    TRANSITION_PROTOCOL, parse,
};
use serde_json::value::RawValue;

const ALIVE: &str = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"node1.example.net","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;

const GOVERNOR: &str = r#"{"protocol":"io.choria.lifecycle.v1.governor","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000017","identity":"node1.example.net","component":"server","timestamp":1700000000,"governor":"PUPPET","sequence":10,"event_type":"enter"}"#;

const ENVELOPE: &str = r#""specversion":"1.0","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","source":"io.choria.lifecycle","type":"io.choria.lifecycle.v1.alive","subject":"node1.example.net","datacontenttype":"application/json","time":"2023-11-14T22:13:20Z""#;

/// `event` with the member `key` set to the raw JSON `value` (appended when absent).
fn with(event: &str, key: &str, value: &str) -> String {
    let mut members = Members::parse(event);
    let value = RawValue::from_string(value.to_owned()).unwrap();
    match members.0.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value,
        None => members.0.push((key.to_owned(), value)),
    }
    members.render()
}

/// `event` without the member `key`.
fn without(event: &str, key: &str) -> String {
    let mut members = Members::parse(event);
    let before = members.0.len();
    members.0.retain(|(k, _)| k != key);
    assert_eq!(members.0.len(), before - 1, "{key} is not in {event}");
    members.render()
}

/// A CloudEvent with the standard lifecycle envelope around `data` (raw JSON).
fn cloudevent(data: &str) -> String {
    format!("{{{ENVELOPE},\"data\":{data}}}")
}

fn wrong_type(field: &str, expected: &'static str, found: &'static str) -> ErrorKind {
    ErrorKind::WrongType {
        field: field.to_owned(),
        expected,
        found,
    }
}

fn invalid(field: &str, value: &str, reason: &'static str) -> ErrorKind {
    ErrorKind::InvalidValue {
        field: field.to_owned(),
        value: value.to_owned(),
        reason,
    }
}

const UNKNOWN_FORMAT: &str = "not a Choria event: expected a 'protocol' key (Choria format) or \
     'specversion' \"1.0\" with a Choria 'source' (CloudEvents format)";

#[test]
fn parse_errors_have_exact_kinds_and_messages() {
    let cases: Vec<(&str, String, ErrorKind, &str)> = vec![
        (
            "not JSON",
            "not json".into(),
            ErrorKind::InvalidJson,
            "not valid JSON: invalid literal at line 1 column 1",
        ),
        (
            "an object that is not JSON",
            "{not json}".into(),
            ErrorKind::InvalidJson,
            "not valid JSON: expected a string key at line 1 column 2",
        ),
        (
            "empty input",
            String::new(),
            ErrorKind::InvalidJson,
            "not valid JSON: unexpected end of input at line 1 column 1",
        ),
        (
            "a JSON array",
            "[1, 2]".into(),
            ErrorKind::NotAnObject("an array"),
            "expected a JSON object holding an event, found an array",
        ),
        (
            "a JSON string",
            " \"io.choria.lifecycle.v1.alive\" ".into(),
            ErrorKind::NotAnObject("a string"),
            "expected a JSON object holding an event, found a string",
        ),
        (
            "a JSON number",
            "42".into(),
            ErrorKind::NotAnObject("a number"),
            "expected a JSON object holding an event, found a number",
        ),
        (
            "JSON null",
            "null".into(),
            ErrorKind::NotAnObject("null"),
            "expected a JSON object holding an event, found null",
        ),
        (
            "an empty object",
            "{}".into(),
            ErrorKind::UnknownFormat,
            UNKNOWN_FORMAT,
        ),
        (
            "neither protocol nor specversion",
            without(ALIVE, "protocol"),
            ErrorKind::UnknownFormat,
            UNKNOWN_FORMAT,
        ),
        (
            "unknown lifecycle protocol",
            with(ALIVE, "protocol", r#""io.choria.lifecycle.v1.bogus""#),
            ErrorKind::UnknownProtocol("io.choria.lifecycle.v1.bogus".into()),
            "unknown protocol 'io.choria.lifecycle.v1.bogus'",
        ),
        (
            "protocol of something else",
            with(ALIVE, "protocol", r#""something.else""#),
            ErrorKind::UnknownProtocol("something.else".into()),
            "unknown protocol 'something.else'",
        ),
        (
            "legacy spelling of an unknown type",
            with(ALIVE, "protocol", r#""choria:lifecycle:bogus:1""#),
            ErrorKind::UnknownProtocol("choria:lifecycle:bogus:1".into()),
            "unknown protocol 'choria:lifecycle:bogus:1'",
        ),
        (
            "protocol as a number",
            with(ALIVE, "protocol", "1"),
            wrong_type("protocol", "a string", "a number"),
            "field 'protocol' must be a string, found a number",
        ),
        (
            "timestamp as a string",
            with(ALIVE, "timestamp", r#""1700000000""#),
            wrong_type("timestamp", "an integer", "a string"),
            "field 'timestamp' must be an integer, found a string",
        ),
        (
            "timestamp with a fraction",
            with(ALIVE, "timestamp", "1.5"),
            wrong_type(
                "timestamp",
                "an integer",
                "a number with a fraction or exponent",
            ),
            "field 'timestamp' must be an integer, found a number with a fraction or exponent",
        ),
        (
            "timestamp with an exponent",
            with(ALIVE, "timestamp", "1.7e9"),
            wrong_type(
                "timestamp",
                "an integer",
                "a number with a fraction or exponent",
            ),
            "field 'timestamp' must be an integer, found a number with a fraction or exponent",
        ),
        (
            "timestamp beyond 64 bits",
            with(ALIVE, "timestamp", "9223372036854775808"),
            invalid(
                "timestamp",
                "9223372036854775808",
                "out of the range of a 64-bit integer",
            ),
            "invalid timestamp '9223372036854775808': out of the range of a 64-bit integer",
        ),
        (
            "negative sequence",
            with(GOVERNOR, "sequence", "-1"),
            invalid("sequence", "-1", "must not be negative"),
            "invalid sequence '-1': must not be negative",
        ),
        (
            "sequence beyond 64 bits",
            with(GOVERNOR, "sequence", "18446744073709551616"),
            invalid(
                "sequence",
                "18446744073709551616",
                "out of the range of a 64-bit unsigned integer",
            ),
            "invalid sequence '18446744073709551616': out of the range of a 64-bit unsigned integer",
        ),
        (
            "sequence as a boolean",
            with(GOVERNOR, "sequence", "true"),
            wrong_type("sequence", "an integer", "a boolean"),
            "field 'sequence' must be an integer, found a boolean",
        ),
        (
            "version as a number",
            with(ALIVE, "version", "29"),
            wrong_type("version", "a string", "a number"),
            "field 'version' must be a string, found a number",
        ),
        (
            "identity as an object",
            with(ALIVE, "identity", r#"{"name":"node1"}"#),
            wrong_type("identity", "a string", "an object"),
            "field 'identity' must be a string, found an object",
        ),
        (
            "component as an array",
            with(ALIVE, "component", r#"["server"]"#),
            wrong_type("component", "a string", "an array"),
            "field 'component' must be a string, found an array",
        ),
        (
            "governor without a governor name",
            without(GOVERNOR, "governor"),
            ErrorKind::MissingField("governor".into()),
            "missing required field 'governor'",
        ),
        (
            "governor with an empty governor name",
            with(GOVERNOR, "governor", r#""""#),
            ErrorKind::MissingField("governor".into()),
            "missing required field 'governor'",
        ),
        (
            "governor with a null governor name",
            with(GOVERNOR, "governor", "null"),
            ErrorKind::MissingField("governor".into()),
            "missing required field 'governor'",
        ),
        (
            "CloudEvent from another source",
            with(&cloudevent(ALIVE), "source", r#""io.example.orders""#),
            ErrorKind::ForeignSource("io.example.orders".into()),
            "CloudEvent from another source 'io.example.orders', expected 'io.choria.lifecycle' or 'io.choria.machine'",
        ),
        (
            "CloudEvent without a source",
            without(&cloudevent(ALIVE), "source"),
            ErrorKind::MissingField("source".into()),
            "missing required field 'source'",
        ),
        (
            "CloudEvents 0.3",
            with(&cloudevent(ALIVE), "specversion", r#""0.3""#),
            ErrorKind::UnsupportedSpecVersion("0.3".into()),
            "unsupported CloudEvents specversion '0.3', expected \"1.0\"",
        ),
        (
            "specversion as a number",
            with(&cloudevent(ALIVE), "specversion", "1.0"),
            wrong_type("specversion", "a string", "a number"),
            "field 'specversion' must be a string, found a number",
        ),
        (
            "datacontenttype text/plain with an object as data",
            with(&cloudevent(ALIVE), "datacontenttype", r#""text/plain""#),
            ErrorKind::DataNotText {
                content_type: "text/plain".into(),
                found: "an object",
            },
            "CloudEvent datacontenttype 'text/plain' is not JSON, so 'data' must be a string \
             holding the event, found an object",
        ),
        (
            "datacontenttype text/plain with a number as data",
            with(
                &cloudevent("7"),
                "datacontenttype",
                r#""text/plain; charset=utf-8""#,
            ),
            ErrorKind::DataNotText {
                content_type: "text/plain; charset=utf-8".into(),
                found: "a number",
            },
            "CloudEvent datacontenttype 'text/plain; charset=utf-8' is not JSON, so 'data' must \
             be a string holding the event, found a number",
        ),
        (
            "datacontenttype text/plain with a string that is not an event",
            with(
                &cloudevent(r#""[1]""#),
                "datacontenttype",
                r#""text/plain""#,
            ),
            ErrorKind::NotAnObject("an array"),
            "expected a JSON object holding an event, found an array",
        ),
        (
            "datacontenttype text/plain with a string that is not JSON",
            with(
                &cloudevent(r#""{\"protocol\":""#),
                "datacontenttype",
                r#""text/plain""#,
            ),
            ErrorKind::InvalidJson,
            "not valid JSON: unexpected end of input at line 1 column 13",
        ),
        (
            "datacontenttype as a number",
            with(&cloudevent(ALIVE), "datacontenttype", "1"),
            wrong_type("datacontenttype", "a string", "a number"),
            "field 'datacontenttype' must be a string, found a number",
        ),
        (
            "time not RFC 3339",
            with(&cloudevent(ALIVE), "time", r#""2023-11-14 22:13:20""#),
            invalid("time", "2023-11-14 22:13:20", "not an RFC 3339 date-time"),
            "invalid time '2023-11-14 22:13:20': not an RFC 3339 date-time",
        ),
        (
            "time on a day the month does not have",
            with(&cloudevent(ALIVE), "time", r#""2023-02-29T00:00:00Z""#),
            invalid("time", "2023-02-29T00:00:00Z", "not an RFC 3339 date-time"),
            "invalid time '2023-02-29T00:00:00Z': not an RFC 3339 date-time",
        ),
        (
            "time as unix seconds",
            with(&cloudevent(ALIVE), "time", "1700000000"),
            wrong_type("time", "a string", "a number"),
            "field 'time' must be a string, found a number",
        ),
        (
            "time inside a machine CloudEvent",
            with(
                &machine_cloudevent(TRANSITION_PROTOCOL, TRANSITION),
                "time",
                r#""yesterday""#,
            ),
            invalid("time", "yesterday", "not an RFC 3339 date-time"),
            "invalid time 'yesterday': not an RFC 3339 date-time",
        ),
        (
            "extension name with an upper-case letter",
            with(&cloudevent(ALIVE), "comExample", r#""x""#),
            ErrorKind::InvalidAttributeName("comExample".into()),
            "invalid CloudEvent attribute name 'comExample': names are lower-case ASCII \
             letters and digits",
        ),
        (
            "extension name with an underscore",
            with(&cloudevent(ALIVE), "com_example", "1"),
            ErrorKind::InvalidAttributeName("com_example".into()),
            "invalid CloudEvent attribute name 'com_example': names are lower-case ASCII \
             letters and digits",
        ),
        (
            "extension name that is a Choria field with an underscore",
            with(&cloudevent(ALIVE), "new_version", r#""0.30.0""#),
            ErrorKind::InvalidAttributeName("new_version".into()),
            "invalid CloudEvent attribute name 'new_version': names are lower-case ASCII \
             letters and digits",
        ),
        (
            "extension name that is empty",
            with(&cloudevent(ALIVE), "", "true"),
            ErrorKind::InvalidAttributeName(String::new()),
            "invalid CloudEvent attribute name '': names are lower-case ASCII letters and \
             digits",
        ),
        (
            "extension name with a dot",
            with(&cloudevent(ALIVE), "com.example", "true"),
            ErrorKind::InvalidAttributeName("com.example".into()),
            "invalid CloudEvent attribute name 'com.example': names are lower-case ASCII \
             letters and digits",
        ),
        (
            "subject as a number",
            with(&cloudevent(ALIVE), "subject", "7"),
            wrong_type("subject", "a string", "a number"),
            "field 'subject' must be a string, found a number",
        ),
        (
            "id as an object",
            with(&cloudevent(ALIVE), "id", "{}"),
            wrong_type("id", "a string", "an object"),
            "field 'id' must be a string, found an object",
        ),
        (
            "data missing",
            without(&cloudevent(ALIVE), "data"),
            ErrorKind::MissingField("data".into()),
            "missing required field 'data'",
        ),
        (
            "data null",
            cloudevent("null"),
            ErrorKind::MissingField("data".into()),
            "missing required field 'data'",
        ),
        (
            "data an array",
            cloudevent("[]"),
            wrong_type("data", "an object", "an array"),
            "field 'data' must be an object, found an array",
        ),
        (
            "data_base64 not base64",
            with(
                &without(&cloudevent(ALIVE), "data"),
                "data_base64",
                r#""not base64!""#,
            ),
            ErrorKind::InvalidBase64,
            "CloudEvent data_base64 is not valid base64",
        ),
        (
            "data without a protocol",
            cloudevent(&without(ALIVE, "protocol")),
            ErrorKind::MissingField("data.protocol".into()),
            "missing required field 'data.protocol'",
        ),
        (
            "data with an unknown protocol",
            cloudevent(&with(ALIVE, "protocol", r#""something.else""#)),
            ErrorKind::UnknownProtocol("something.else".into()),
            "unknown protocol 'something.else'",
        ),
        (
            "data with a timestamp string",
            cloudevent(&with(ALIVE, "timestamp", r#""1700000000""#)),
            wrong_type("data.timestamp", "an integer", "a string"),
            "field 'data.timestamp' must be an integer, found a string",
        ),
        (
            "data with an identity object",
            cloudevent(&with(ALIVE, "identity", "{}")),
            wrong_type("data.identity", "a string", "an object"),
            "field 'data.identity' must be a string, found an object",
        ),
        (
            "data with a negative sequence",
            cloudevent(&with(GOVERNOR, "sequence", "-3")),
            invalid("data.sequence", "-3", "must not be negative"),
            "invalid data.sequence '-3': must not be negative",
        ),
        (
            "data governor without a governor name",
            cloudevent(&without(GOVERNOR, "governor")),
            ErrorKind::MissingField("data.governor".into()),
            "missing required field 'data.governor'",
        ),
        (
            "data as a JSON string with a JSON content type",
            cloudevent(&serde_json::to_string(ALIVE).unwrap()),
            wrong_type("data", "an object", "a string"),
            "field 'data' must be an object, found a string",
        ),
        (
            "data as a JSON string without a content type",
            without(
                &cloudevent(&serde_json::to_string(ALIVE).unwrap()),
                "datacontenttype",
            ),
            wrong_type("data", "an object", "a string"),
            "field 'data' must be an object, found a string",
        ),
        (
            "data_base64 as a number",
            with(&without(&cloudevent(ALIVE), "data"), "data_base64", "7"),
            wrong_type("data_base64", "a string", "a number"),
            "field 'data_base64' must be a string, found a number",
        ),
    ];
    for (what, input, kind, message) in cases {
        let err = match parse(input.as_bytes()) {
            Ok(parsed) => panic!("{what}: parsed as {:?}", parsed.event()),
            Err(err) => err,
        };
        assert_eq!(err.kind(), &kind, "{what}: kind of {input}");
        assert_eq!(err.to_string(), message, "{what}: message for {input}");
    }
}

#[test]
fn invalid_json_says_what_is_wrong_and_where() {
    let cases: [(&[u8], &str); 5] = [
        (
            b"{\"protocol\":",
            "unexpected end of input at line 1 column 13",
        ),
        (b"{\n  \"id\": tru\n}", "invalid literal at line 2 column 9"),
        (
            b"{\"a\":1} x",
            "trailing characters after the JSON value at line 1 column 9",
        ),
        (
            b"{\"a\":\"\\q\"}",
            "invalid escape in string at line 1 column 7",
        ),
        (b"{\"a\":01}", "invalid number at line 1 column 7"),
    ];
    for (input, detail) in cases {
        let err = parse(input).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidJson);
        assert_eq!(err.to_string(), format!("not valid JSON: {detail}"));
    }
}

#[test]
fn data_base64_holding_an_event_parses() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(ALIVE);
    let input = format!("{{{ENVELOPE},\"data_base64\":\"{encoded}\"}}");
    let parsed = parse(input.as_bytes()).unwrap();
    assert_eq!(parsed.format(), Format::CloudEvents);
    let from_choria = parse(ALIVE.as_bytes()).unwrap();
    assert_eq!(parsed.event(), from_choria.event());
    assert_eq!(
        parsed.event().to_string(),
        "[alive] node1.example.net: server version 0.29.4"
    );
    // Written back, the event stands as `data` where `data_base64` stood.
    assert_eq!(
        String::from_utf8(parsed.to_json()).unwrap(),
        cloudevent(ALIVE)
    );
}

/// With a content type that is not JSON, `data` is a string holding the event's bytes, as
/// Choria's CloudEvents SDK reads it; written back in the same form.
#[test]
fn data_as_a_string_with_a_text_content_type_parses() {
    for content_type in [
        "text/plain",
        "application/octet-stream",
        "text/plain; charset=utf-8",
    ] {
        let input = with(
            &cloudevent(&serde_json::to_string(ALIVE).unwrap()),
            "datacontenttype",
            &serde_json::to_string(content_type).unwrap(),
        );
        let parsed = parse(input.as_bytes()).unwrap();
        assert_eq!(parsed.format(), Format::CloudEvents);
        assert_eq!(
            parsed.event(),
            parse(ALIVE.as_bytes()).unwrap().event(),
            "{content_type}"
        );
        assert_eq!(
            parsed
                .attribute("datacontenttype")
                .map(|raw| raw.get().to_owned()),
            Some(serde_json::to_string(content_type).unwrap())
        );
        assert_eq!(String::from_utf8(parsed.to_json()).unwrap(), input);
    }
}

/// `data_base64` holds the event whatever the content type; with one that is not JSON it is
/// written back as `data_base64`.
#[test]
fn data_base64_with_a_text_content_type_is_written_back_as_base64() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(ALIVE);
    let input = with(
        &format!("{{{ENVELOPE},\"data_base64\":\"{encoded}\"}}"),
        "datacontenttype",
        r#""application/octet-stream""#,
    );
    let parsed = parse(input.as_bytes()).unwrap();
    assert_eq!(parsed.event(), parse(ALIVE.as_bytes()).unwrap().event());
    assert_eq!(String::from_utf8(parsed.to_json()).unwrap(), input);
}

/// An empty `datacontenttype` reads as none, as the SDK reads it: `data` is the object.
#[test]
fn empty_datacontenttype_is_json() {
    let input = with(&cloudevent(ALIVE), "datacontenttype", r#""""#);
    let parsed = parse(input.as_bytes()).unwrap();
    assert_eq!(parsed.event(), parse(ALIVE.as_bytes()).unwrap().event());
    assert_eq!(String::from_utf8(parsed.to_json()).unwrap(), input);
}

/// Of `data` and `data_base64`, the one that comes last counts, as a repeated key does.
#[test]
fn the_last_of_data_and_data_base64_counts() {
    let other = ALIVE.replace("node1.example.net", "node2.example.net");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&other);
    let base64_last = format!("{{{ENVELOPE},\"data\":{ALIVE},\"data_base64\":\"{encoded}\"}}");
    let data_last = format!("{{{ENVELOPE},\"data_base64\":\"{encoded}\",\"data\":{ALIVE}}}");
    for (input, identity) in [
        (base64_last, "node2.example.net"),
        (data_last, "node1.example.net"),
    ] {
        let parsed = parse(input.as_bytes()).unwrap();
        assert_eq!(parsed.event().identity(), identity, "{input}");
    }
}

/// Times the SDK accepts: RFC 3339 with a fraction or an offset, or none at all.
#[test]
fn cloudevent_times_in_any_rfc3339_form_are_accepted() {
    for time in [
        r#""2023-11-14T22:13:20.123456789Z""#,
        r#""2023-11-14T23:13:20+01:00""#,
        r#""""#,
        "null",
    ] {
        let input = with(&cloudevent(ALIVE), "time", time);
        let parsed = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{time}: {e}"));
        assert_eq!(parsed.event(), parse(ALIVE.as_bytes()).unwrap().event());
        assert_eq!(String::from_utf8(parsed.to_json()).unwrap(), input);
    }
    let input = without(&cloudevent(ALIVE), "time");
    assert!(parse(input.as_bytes()).is_ok());
}

#[test]
fn legacy_protocol_is_accepted_and_normalised() {
    for (legacy, current, display) in [
        (
            "choria:lifecycle:alive:1",
            "io.choria.lifecycle.v1.alive",
            "[alive] node1.example.net: server version 0.29.4",
        ),
        (
            "choria:lifecycle:shutdown:1",
            "io.choria.lifecycle.v1.shutdown",
            "[shutdown] node1.example.net: server",
        ),
    ] {
        let input = ALIVE.replace("io.choria.lifecycle.v1.alive", legacy);
        let parsed = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{legacy}: {e}"));
        assert_eq!(parsed.format(), Format::Choria, "{legacy}");
        assert_eq!(parsed.event().to_string(), display, "{legacy}");
        assert_eq!(parsed.event().protocol(), current, "{legacy}");
        // For shutdown, `version` is not a field of the type: it is kept as received, last.
        let expected = ALIVE.replace("io.choria.lifecycle.v1.alive", current);
        assert_eq!(
            String::from_utf8(parsed.to_json()).unwrap(),
            expected,
            "{legacy}"
        );

        // Inside a CloudEvent's data too.
        let parsed = parse(cloudevent(&input).as_bytes()).unwrap();
        assert_eq!(parsed.event().protocol(), current, "{legacy} in data");
    }
}

#[test]
fn cloudevent_with_extensions_and_no_datacontenttype_is_written_back_unchanged() {
    let input = format!(
        "{{\"specversion\":\"1.0\",\"id\":\"6b0b2a6e-1f0e-4c1a-9d2e-000000000007\",\
         \"source\":\"io.choria.lifecycle\",\"type\":\"io.choria.lifecycle.v1.alive\",\
         \"subject\":\"node1.example.net\",\"time\":\"2023-11-14T22:13:20Z\",\
         \"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\",\
         \"comexampleregion\":\"eu-west\",\"comexamplecount\":3,\"data\":{ALIVE},\
         \"comexampleafter\":true}}"
    );
    let parsed = parse(input.as_bytes()).unwrap();
    assert_eq!(parsed.format(), Format::CloudEvents);
    assert_eq!(
        parsed.event().to_string(),
        "[alive] node1.example.net: server version 0.29.4"
    );
    assert_eq!(
        parsed.attribute("comexampleregion").map(|raw| raw.get()),
        Some("\"eu-west\"")
    );
    assert!(parsed.attribute("datacontenttype").is_none());
    assert_eq!(String::from_utf8(parsed.to_json()).unwrap(), input);
}

#[test]
fn envelope_type_does_not_decide_the_event_type() {
    let input = cloudevent(ALIVE).replace(
        "\"type\":\"io.choria.lifecycle.v1.alive\"",
        "\"type\":\"io.choria.lifecycle.v1.startup\"",
    );
    let parsed = parse(input.as_bytes()).unwrap();
    assert_eq!(parsed.event().type_name(), "alive");
}

const TRANSITION: &str = r#"{"protocol":"io.choria.machine.v1.transition","identity":"node1.example.net","id":"1a2b3c4d-0000-4000-8000-000000000001","version":"1.0.0","timestamp":1700000000,"machine":"nagios","transition":"maintenance","from_state":"monitor","to_state":"paused"}"#;

const EXEC_STATE: &str = r#"{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"node1.example.net","id":"1a2b3c4d-0000-4000-8000-000000000001","version":"1.0.0","timestamp":1700000000,"type":"exec","machine":"nagios","name":"check_load","command":"/usr/lib/nagios/plugins/check_load -w 1 -c 2","previous_outcome":"success","previous_run_time":1234567890}"#;

fn machine_cloudevent(kind: &str, data: &str) -> String {
    format!(
        "{{\"specversion\":\"1.0\",\"id\":\"e7c0b1a2-3d4e-4f50-8a6b-7c8d9e0f1a2b\",\
         \"source\":\"io.choria.machine\",\"type\":\"{kind}\",\"subject\":\"node1.example.net\",\
         \"datacontenttype\":\"application/json\",\"time\":\"2023-11-14T22:13:20Z\",\"data\":{data}}}"
    )
}

#[test]
fn machine_events_parse_in_both_formats_with_choria_display_lines() {
    let cases = [
        (
            TRANSITION,
            "io.choria.machine.v1.transition",
            "transition",
            "choria.machine.transition",
            "node1.example.net nagios transitioned via event maintenance: monitor => paused",
        ),
        (
            EXEC_STATE,
            "io.choria.machine.watcher.exec.v1.state",
            "state",
            "choria.machine.watcher.exec.state",
            "node1.example.net nagios#check_load command: /usr/lib/nagios/plugins/check_load -w 1 -c 2, previous: success ran: 1.235s",
        ),
    ];
    for (choria, protocol, type_name, subject, display) in cases {
        let cloud = machine_cloudevent(protocol, choria);
        for (input, format) in [(choria, Format::Choria), (&*cloud, Format::CloudEvents)] {
            let parsed = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{protocol}: {e}"));
            assert_eq!(parsed.format(), format, "{protocol}");
            let AnyEvent::Machine(machine) = parsed.event() else {
                panic!("{protocol} {format}: not a machine event")
            };
            assert_eq!(machine.protocol(), protocol);
            assert_eq!(machine.type_name(), type_name);
            assert_eq!(machine.subject(), subject);
            assert_eq!(machine.identity(), "node1.example.net");
            assert_eq!(machine.machine(), "nagios");
            assert_eq!(machine.version(), "1.0.0");
            assert_eq!(machine.timestamp(), 1_700_000_000);
            assert_eq!(machine.to_string(), display, "{protocol} {format}");
            assert_eq!(parsed.event().subject().unwrap(), subject);
            assert_eq!(parsed.event().component(), None);
            // Written back as received, the CloudEvent's own id included.
            assert_eq!(
                String::from_utf8(parsed.to_json()).unwrap(),
                input,
                "{protocol} {format}"
            );
        }
    }
}

#[test]
fn exec_state_fields_and_run_time_rounding() {
    let parsed = parse(EXEC_STATE.as_bytes()).unwrap();
    let Some(MachineEvent::WatcherState(state)) = parsed.event().as_machine() else {
        panic!("not a watcher state")
    };
    assert_eq!(state.watcher_type, "exec");
    assert_eq!(state.name, "check_load");
    let exec = state.exec.as_ref().expect("exec fields");
    assert_eq!(exec.previous_outcome, "success");
    assert_eq!(exec.previous_run_time, 1_234_567_890);

    // Go prints time.Duration.Seconds() with %.3f.
    for (nanos, shown) in [
        (0, "0.000s"),
        (1_500_000_000, "1.500s"),
        (123_456_789, "0.123s"),
        (999_999_999, "1.000s"),
    ] {
        let input = with(EXEC_STATE, "previous_run_time", &nanos.to_string());
        let line = parse(input.as_bytes()).unwrap().event().to_string();
        assert!(line.ends_with(&format!("ran: {shown}")), "{nanos}: {line}");
    }
}

#[test]
fn exec_state_with_another_watcher_type_is_refused() {
    let input = with(EXEC_STATE, "type", r#""file""#);
    let err = parse(input.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type 'file': does not match the watcher kind of the protocol"
    );
}

/// The builder of each type, with every field it requires.
fn complete(event_type: EventType) -> lifecycle_core::EventBuilder {
    let builder = Event::builder(event_type);
    match event_type {
        EventType::Startup | EventType::Alive => builder
            .identity("node1.example.net")
            .component("server")
            .version("0.29.4"),
        EventType::Shutdown | EventType::Provisioned => {
            builder.identity("node1.example.net").component("server")
        }
        EventType::Governor => builder
            .identity("node1.example.net")
            .component("server")
            .governor("PUPPET")
            .sequence(1)
            .governor_event(GovernorEventType::Enter),
        EventType::Upgraded => builder
            .identity("node1.example.net")
            .component("server")
            .version("0.28.0")
            .new_version("0.29.4"),
    }
}

/// The builder of `event_type` with every required field except `missing`.
fn lacking(event_type: EventType, missing: &str) -> lifecycle_core::EventBuilder {
    let mut builder = Event::builder(event_type);
    let set = |field: &str| field != missing;
    if set("identity") {
        builder = builder.identity("node1.example.net");
    }
    if set("component") {
        builder = builder.component("server");
    }
    if set("version") && matches!(event_type, EventType::Upgraded) {
        builder = builder.version("0.28.0");
    } else if set("version") && matches!(event_type, EventType::Startup | EventType::Alive) {
        builder = builder.version("0.29.4");
    }
    if event_type == EventType::Upgraded && set("new_version") {
        builder = builder.new_version("0.29.4");
    }
    if event_type == EventType::Governor {
        if set("governor") {
            builder = builder.governor("PUPPET");
        }
        if set("sequence") {
            builder = builder.sequence(3);
        }
        if set("event_type") {
            builder = builder.governor_event(GovernorEventType::Exit);
        }
    }
    builder
}

/// A governor event's sequence is optional, 0 when not given, as in Choria.
#[test]
fn a_governor_sequence_defaults_to_zero() {
    let event = lacking(EventType::Governor, "sequence").build().unwrap();
    assert!(matches!(
        event.kind(),
        EventKind::Governor { sequence: 0, .. }
    ));
    assert_eq!(
        event.to_string(),
        "[governor] node1.example.net: vacated PUPPET"
    );
}

#[test]
fn builders_refuse_each_missing_required_field() {
    let required: [(EventType, &[&str]); 6] = [
        (EventType::Startup, &["identity", "component", "version"]),
        (EventType::Alive, &["identity", "component", "version"]),
        (EventType::Shutdown, &["identity", "component"]),
        (EventType::Provisioned, &["identity", "component"]),
        (EventType::Governor, &["governor", "event_type"]),
        (EventType::Upgraded, &["version", "new_version"]),
    ];
    for (event_type, fields) in required {
        assert!(
            complete(event_type).build().is_ok(),
            "{event_type} with every field"
        );
        for &field in fields {
            let err = lacking(event_type, field)
                .build()
                .expect_err(&format!("{event_type} without {field}"));
            assert_eq!(
                err.kind(),
                &ErrorKind::MissingField(field.to_owned()),
                "{event_type} without {field}"
            );
            assert_eq!(
                err.to_string(),
                format!("missing required field '{field}'"),
                "{event_type} without {field}"
            );
        }
    }
}

#[test]
fn builder_refuses_a_component_that_is_not_a_subject_token() {
    let reserved = "a NATS subject token cannot hold '.', '*' or '>'";
    let space = "a NATS subject token cannot hold white space";
    let control = "a NATS subject token cannot hold control characters or U+FFFD";
    let cases = [
        ("my.server", reserved),
        ("a*", reserved),
        ("a>", reserved),
        ("my server", space),
        ("server\t", space),
        ("a\u{a0}b", space),
        ("a\u{1b}[2J", control),
        ("a\u{9b}", control),
    ];
    for (component, reason) in cases {
        for event_type in EventType::ALL {
            let err = complete(event_type)
                .component(component)
                .build()
                .expect_err(component);
            assert_eq!(
                err.to_string(),
                format!("invalid component '{component}': {reason}"),
                "{event_type}"
            );
            assert!(
                matches!(err.kind(), ErrorKind::InvalidValue { field, .. } if field == "component")
            );
        }
    }
}

#[test]
fn builder_keeps_the_first_error() {
    let err = Event::builder(EventType::Governor)
        .component("a.b")
        .governor_event(GovernorEventType::Other("bogus".into()))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid component 'a.b': a NATS subject token cannot hold '.', '*' or '>'"
    );
    let err = complete(EventType::Governor)
        .governor_event(GovernorEventType::Other("bogus".into()))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid event_type 'bogus': expected enter, exit, timeouts or eviction"
    );
}

#[test]
fn fresh_events_get_a_uuid_v4_and_the_current_time() {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let mut ids = Vec::new();
    for event_type in EventType::ALL {
        let before = now();
        let event = complete(event_type).build().unwrap();
        let after = now();
        assert!(
            (before - 1..=after + 1).contains(&event.timestamp()),
            "{event_type}: timestamp {} not within a second of {before}..{after}",
            event.timestamp()
        );
        let id = event.id();
        let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        // Choria's spelling: lower-case, hyphenated.
        assert_eq!(id, uuid.hyphenated().to_string());
        ids.push(id.to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EventType::ALL.len(), "ids are unique");
}

#[test]
fn builder_id_and_timestamp_replace_the_fresh_ones() {
    let event = complete(EventType::Alive)
        .id("6b0b2a6e-1f0e-4c1a-9d2e-000000000007")
        .timestamp(1_700_000_000)
        .build()
        .unwrap();
    assert_eq!(event.to_json(), ALIVE.as_bytes());
}

#[test]
fn built_events_have_choria_display_lines_and_subjects() {
    let cases = [
        (
            EventType::Startup,
            "[startup] node1.example.net: server version 0.29.4",
        ),
        (EventType::Shutdown, "[shutdown] node1.example.net: server"),
        (
            EventType::Provisioned,
            "[provisioned] node1.example.net: server",
        ),
        (
            EventType::Alive,
            "[alive] node1.example.net: server version 0.29.4",
        ),
        (
            EventType::Governor,
            "[governor] node1.example.net: obtained slot 1 on PUPPET",
        ),
        (
            EventType::Upgraded,
            "[upgraded] node1.example.net: server version 0.28.0 to 0.29.4",
        ),
    ];
    for (event_type, display) in cases {
        let event = complete(event_type).build().unwrap();
        assert_eq!(event.to_string(), display);
        assert_eq!(
            event.subject().unwrap(),
            format!("choria.lifecycle.event.{event_type}.server")
        );
    }
}

#[test]
fn an_event_without_component_has_no_subject() {
    let input = without(ALIVE, "component");
    let parsed = parse(input.as_bytes()).unwrap();
    let err = parsed.event().subject().unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NoSubject);
    assert_eq!(
        err.to_string(),
        "event has no component, so it has no NATS subject and cannot be published"
    );
}

#[test]
fn governor_display_lines_for_every_stage() {
    let governor = |stage: GovernorEventType, sequence: u64| {
        Event::builder(EventType::Governor)
            .identity("node1.example.net")
            .component("server")
            .governor("PUPPET")
            .sequence(sequence)
            .governor_event(stage)
            .build()
            .unwrap()
            .to_string()
    };
    let cases = [
        (
            GovernorEventType::Enter,
            0,
            "[governor] node1.example.net: obtained slot on PUPPET",
        ),
        (
            GovernorEventType::Enter,
            7,
            "[governor] node1.example.net: obtained slot 7 on PUPPET",
        ),
        (
            GovernorEventType::Exit,
            0,
            "[governor] node1.example.net: vacated PUPPET",
        ),
        (
            GovernorEventType::Exit,
            7,
            "[governor] node1.example.net: vacated slot 7 on PUPPET",
        ),
        (
            GovernorEventType::Timeouts,
            0,
            "[governor] node1.example.net: failed to obtain a slot on PUPPET",
        ),
        (
            GovernorEventType::Timeouts,
            7,
            "[governor] node1.example.net: failed to obtain a slot on PUPPET",
        ),
        (
            GovernorEventType::Eviction,
            0,
            "[governor] node1.example.net: evicted from PUPPET",
        ),
        (
            GovernorEventType::Eviction,
            7,
            "[governor] node1.example.net: evicted from slot 7 on PUPPET",
        ),
    ];
    for (stage, sequence, display) in cases {
        let line = governor(stage.clone(), sequence);
        assert_eq!(line, display, "{stage} {sequence}");
        // Parsed from the wire, the same line.
        let input = with(
            &with(GOVERNOR, "event_type", &format!("\"{stage}\"")),
            "sequence",
            &sequence.to_string(),
        );
        assert_eq!(
            parse(input.as_bytes()).unwrap().event().to_string(),
            display,
            "parsed {stage} {sequence}"
        );
    }

    // A stage Choria does not know is kept, shown as Choria shows it, and written back.
    for sequence in [0, 7] {
        let input = with(
            &with(GOVERNOR, "event_type", r#""bogus""#),
            "sequence",
            &sequence.to_string(),
        );
        let parsed = parse(input.as_bytes()).unwrap();
        assert_eq!(
            parsed.event().to_string(),
            "[governor] node1.example.net: unknown stage on Governor PUPPET"
        );
        let AnyEvent::Lifecycle(event) = parsed.event() else {
            panic!("not a lifecycle event")
        };
        assert!(matches!(
            event.kind(),
            lifecycle_core::EventKind::Governor { event_type: GovernorEventType::Other(s), .. } if s == "bogus"
        ));
        assert!(
            String::from_utf8(parsed.to_json())
                .unwrap()
                .contains(r#""event_type":"bogus""#)
        );
    }
}

/// Members a type does not define are kept and written back, whatever else is absent.
#[test]
fn members_a_type_does_not_define_are_kept_when_a_defined_one_is_absent() {
    for input in [
        // alive without `version`, with `governor` (a known key, not an alive field)
        r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"x","identity":"n","component":"c","timestamp":1,"governor":"G"}"#,
        // shutdown without `component`, with `type`
        r#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"x","identity":"n","timestamp":1,"type":"t"}"#,
    ] {
        let parsed = parse(input.as_bytes()).unwrap();
        let written = String::from_utf8(parsed.to_json()).unwrap();
        let AnyEvent::Lifecycle(event) = parsed.event() else {
            panic!("not a lifecycle event")
        };
        assert_eq!(event.extra().count(), 1, "{input} -> {written}");
        let (key, _) = event.extra().next().unwrap();
        assert!(written.contains(&format!("\"{key}\":")), "{written}");
    }
}

/// A string holding a lone UTF-16 surrogate escape: Go's encoding/json reads it as U+FFFD.
#[test]
fn a_lone_surrogate_escape_is_read_as_go_reads_it_or_named_precisely() {
    let input = ALIVE.replace("node1.example.net", r"node1\ud800");
    match parse(input.as_bytes()) {
        Ok(parsed) => assert_eq!(parsed.event().identity(), "node1\u{fffd}"),
        Err(err) => assert_ne!(
            err.to_string(),
            "field 'identity' must be a string, found a string"
        ),
    }
}

/// JSON text must be UTF-8: a top-level value with invalid UTF-8 is not JSON.
#[test]
fn invalid_utf8_outside_an_object_is_invalid_json() {
    for input in [&b"\"\xff\""[..], b"[\"\xc3\x28\"]"] {
        let err = parse(input).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidJson, "{err}");
    }
}

/// An event whose members nest as deep as a document may is refused: as a CloudEvent's
/// `data` it would pass the limit, and what is accepted must be writable in both formats.
#[test]
fn members_too_deep_for_a_cloudevent_are_refused() {
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    // The event object is level 1: a member of 126 levels makes 127, 128 inside `data`.
    let fits = parse(with(ALIVE, "x", &nested(126)).as_bytes()).unwrap();
    let cloudevent = fits.event().cloudevent().to_json();
    assert_eq!(parse(&cloudevent).unwrap().event(), fits.event());

    let err = parse(with(ALIVE, "x", &nested(127)).as_bytes()).unwrap_err();
    assert_eq!(
        err.kind(),
        &invalid(
            "x",
            "(nested value)",
            "nests deeper than 126 levels, too deep for the event to be carried in a CloudEvent"
        )
    );
    assert_eq!(
        err.to_string(),
        "invalid x '(nested value)': nests deeper than 126 levels, too deep for the event to \
         be carried in a CloudEvent"
    );
}
