//! Any text as a Choria client configuration file: `ChoriaConfig::parse` never panics, and
//! neither do its `Debug` (which must not show secrets) nor its error messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_nats::ChoriaConfig;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match ChoriaConfig::parse(text, std::path::Path::new("/etc/choria/client.conf")) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
