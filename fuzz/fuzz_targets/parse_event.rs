//! Any bytes through `lifecycle_core::parse`: it never panics, it gives what the reference
//! reader gives (`parse_with_serde_json`, where serde_json reads every object): the same
//! event or the same error; and an event it accepts writes back as JSON that parses again to
//! the same event in the same format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_core::{parse, parse_with_serde_json};

fuzz_target!(|bytes: &[u8]| {
    let ours = parse(bytes);
    let reference = parse_with_serde_json(bytes);
    let show = || String::from_utf8_lossy(bytes).into_owned();
    let parsed = match (ours, reference) {
        (Ok(ours), Ok(reference)) => {
            assert_eq!(ours.event(), reference.event(), "{}", show());
            assert_eq!(ours.format(), reference.format(), "{}", show());
            assert_eq!(ours.to_json(), reference.to_json(), "{}", show());
            ours
        }
        (Err(ours), Err(reference)) => {
            assert_eq!(ours.kind(), reference.kind(), "{}", show());
            assert_eq!(ours.to_string(), reference.to_string(), "{}", show());
            return;
        }
        (ours, reference) => panic!(
            "{}: ours {:?}, serde_json's {:?}",
            show(),
            ours.map(|p| p.into_event()),
            reference.map(|p| p.into_event())
        ),
    };
    let event = parsed.event();
    let _ = (event.to_string(), event.subject());
    let written = parsed.to_json();
    let again = parse(&written).unwrap_or_else(|e| {
        panic!(
            "written back as {} it does not parse: {e}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(
        again.event(),
        event,
        "{}",
        String::from_utf8_lossy(&written)
    );
    assert_eq!(again.format(), parsed.format());
});
