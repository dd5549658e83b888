//! Any text as a `lifecycle react` rules file: `Rules::parse` never panics, and every problem
//! it reports names a line of the file and prints as one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_react::{ErrorKind, Rules};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let error = match Rules::parse(text, std::path::Path::new("/etc/lifecycle/react.toml")) {
        Ok(rules) => {
            let _ = format!("{rules:?}");
            return;
        }
        Err(error) => error,
    };
    let _ = error.to_string();
    if let ErrorKind::RulesInvalid { problems, .. } = error.kind() {
        assert!(!problems.is_empty());
        let lines = text.lines().count().max(1);
        for problem in problems {
            assert!(
                (1..=lines + 1).contains(&problem.line),
                "line {} of {lines}: {problem}",
                problem.line
            );
            assert!(!problem.to_string().contains('\n'), "{problem}");
        }
    }
});
