//! Any bytes through `lifecycle_core::parse`: it never panics, and an event it accepts
//! writes back as JSON that parses again to the same event in the same format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_core::parse;

fuzz_target!(|bytes: &[u8]| {
    let Ok(parsed) = parse(bytes) else {
        return;
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
