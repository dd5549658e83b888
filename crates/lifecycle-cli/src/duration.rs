//! Durations and `--since` times on the command line, for clap: `lifecycle_core`'s
//! [`duration::parse`] and [`Since`] (`90s`, `1h30m`, `500ms`, `2d`, bare seconds, at most 100
//! years; `--since` also takes an RFC 3339 time).

use std::time::Duration;

use lifecycle_core::duration::{self, Since};

/// Parses a duration for clap. The error leaves the text out: clap shows it.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    duration::parse(text).map_err(|e| e.reason())
}

/// Parses a duration that must be more than zero (an interval, say).
pub(crate) fn parse_nonzero(text: &str) -> Result<Duration, String> {
    match parse(text)? {
        Duration::ZERO => Err("must be more than zero".to_owned()),
        duration => Ok(duration),
    }
}

/// Parses `--since`: a duration back from now, or an RFC 3339 time.
pub(crate) fn parse_since(text: &str) -> Result<Since, String> {
    Since::parse(text).map_err(|e| e.reason())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse("10y"),
            Err("unknown unit 'y' (use ns, us, ms, s, m, h or d)".to_owned())
        );
        assert_eq!(
            parse_nonzero("0s"),
            Err("must be more than zero".to_owned())
        );
        assert_eq!(parse_nonzero("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_since("2h"), Ok(Since::Ago(Duration::from_secs(7200))));
        assert!(matches!(
            parse_since("2026-11-30T10:00:00+01:00"),
            Ok(Since::Time(_))
        ));
        assert_eq!(
            parse_since("5000000d"),
            Err("longer than the maximum of 100 years (876600h) \
                 (or give an RFC 3339 time, e.g. 2026-11-30T10:00:00Z)"
                .to_owned())
        );
    }
}
