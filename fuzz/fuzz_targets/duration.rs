//! Any text as a command-line duration or `--since` value: `duration::parse` and `Since::parse`
//! never panic; an accepted duration is within the maximum and writes back as text that
//! parses again to the same duration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_core::duration::{self, Since};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(read) = duration::parse(text) {
        assert!(read <= duration::MAX, "{text:?} gave {read:?}");
        let written = duration::format(read);
        // Written to the millisecond: what it reads back is the duration, cut there.
        let cut = std::time::Duration::from_millis(read.as_millis() as u64);
        assert_eq!(
            duration::parse(&written).ok(),
            Some(cut),
            "{text:?} as {written:?}"
        );
    }
    if let Ok(since) = Since::parse(text) {
        let _ = since.start(std::time::SystemTime::now());
    }
});
