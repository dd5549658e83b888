//! What the benches read about themselves: their command line and their memory.

use std::str::FromStr;

/// The value after `name` on this process's command line (`--runs 5`), if it is there and
/// parses.
pub fn arg<T: FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

/// Whether `flag` is on this process's command line (`--test`, `--bench`).
pub fn flag(flag: &str) -> bool {
    std::env::args().any(|a| a == flag)
}

/// The line `field` (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`, in MiB; `pid` may be
/// `self`.
pub fn memory_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux /proc");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    kib / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(memory_mib("self", "VmRSS") > 0.0);
        assert_eq!(arg::<u32>("--no-such-option"), None);
        assert!(!flag("--no-such-option"));
    }
}
