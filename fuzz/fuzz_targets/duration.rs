//! Any text as a command-line duration or `--since` value: `parse_duration` and `Since::parse`
//! never panic; an accepted duration is within the maximum and writes back as text that
//! parses again to the same duration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_core::{MAX_DURATION, Since, format_duration, parse_duration};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(duration) = parse_duration(text) {
        assert!(duration <= MAX_DURATION, "{text:?} gave {duration:?}");
        let written = format_duration(duration);
        // Written to the millisecond: what it reads back is the duration, cut there.
        let cut = std::time::Duration::from_millis(duration.as_millis() as u64);
        assert_eq!(
            parse_duration(&written).ok(),
            Some(cut),
            "{text:?} as {written:?}"
        );
    }
    if let Ok(since) = Since::parse(text) {
        let _ = since.start(std::time::SystemTime::now());
    }
});
