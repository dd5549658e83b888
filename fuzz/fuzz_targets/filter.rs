//! The filter language: any text through `Filter::parse` (an error displays), and a filter
//! that parses is evaluated on the event in the rest of the input and on built-in events
//! with members serde_json cannot read. Nothing panics.
//!
//! Input: the expression, a newline, then the bytes of an event.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lifecycle_core::{AnyEvent, Filter, Interest, parse};

const BUILT_IN: &[&str] = &[
    r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"01","identity":"web1.example.net","component":"server","timestamp":1700000000,"version":"0.29.4"}"#,
    r#"{"protocol":"io.choria.lifecycle.v1.governor","id":"02","identity":"web2","component":"server","timestamp":1700000000,"governor":"rollout","sequence":3,"event_type":"enter"}"#,
    r#"{"protocol":"io.choria.lifecycle.v1.upgraded","id":"03","identity":"web3","component":"server","timestamp":1700000000,"version":"0.29.4","new_version":"0.30.1"}"#,
    r#"{"protocol":"io.choria.machine.v1.transition","identity":"n1","id":"m","version":"1.0.0","timestamp":1700000000,"machine":"nagios","transition":"fire","from_state":"idle","to_state":"running"}"#,
    r#"{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"n1","id":"i","version":"1.0.0","timestamp":1700000000,"type":"exec","machine":"m","name":"check","command":"/bin/true","previous_outcome":"success","previous_run_time":1500000000}"#,
    r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"04","identity":"n2","component":"server","timestamp":1700000000,"version":"0.29.4","extra":1e400,"s":"\ud800","a":{"b":{"c":-1e400,"\udc00":1,"d":"x\ud800"},"b":[1e400]},"n":null}"#,
];

static EVENTS: LazyLock<Vec<AnyEvent>> = LazyLock::new(|| {
    BUILT_IN
        .iter()
        .map(|json| {
            parse(json.as_bytes())
                .expect("built-in events parse")
                .into_event()
        })
        .collect()
});

fuzz_target!(|input: &[u8]| {
    let (expression, event) = match input.iter().position(|&b| b == b'\n') {
        Some(at) => input.split_at(at),
        None => (input, &[][..]),
    };
    let expression = String::from_utf8_lossy(expression);
    let filter = match Filter::parse(&expression) {
        Ok(filter) => filter,
        Err(error) => {
            let _ = (error.to_string(), error.position(), error.kind());
            return;
        }
    };
    let _ = (Interest::from_filter(&filter).subjects(), filter.is_empty());
    if let Ok(parsed) = parse(event.get(1..).unwrap_or_default()) {
        let _ = filter.matches(parsed.event());
    }
    for event in EVENTS.iter() {
        let _ = filter.matches(event);
    }
});
