//! Durations on the command line: `500ms`, `30s`, `10m`, `2h`, `1d`, or bare seconds.

use std::time::Duration;

/// Parses a duration for clap.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (e.g. 30s, 10m, 2h)"))?;
    let seconds = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}' (use ms, s, m, h or d)"
            ));
        }
    };
    Duration::try_from_secs_f64(number * seconds).map_err(|e| format!("'{text}': {e}"))
}

/// Writes a duration in hours, minutes, seconds and milliseconds (`24h`, `1h30m`, `90s` is
/// `1m30s`, `500ms`): Go's style without its zero units.
pub(crate) fn format(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    let millis = duration.subsec_millis();
    if seconds == 0 {
        return format!("{millis}ms");
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    if millis > 0 {
        out.push_str(&format!("{millis}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse("10y").unwrap_err().contains("unknown unit 'y'"));
        assert!(parse("soon").is_err());
    }

    #[test]
    fn formats_in_the_largest_units() {
        for (seconds, millis, want) in [
            (86_400, 0, "24h"),
            (3600, 0, "1h"),
            (5400, 0, "1h30m"),
            (90, 0, "1m30s"),
            (0, 500, "500ms"),
            (1, 5, "1s5ms"),
            (0, 0, "0ms"),
        ] {
            let duration = Duration::from_secs(seconds) + Duration::from_millis(millis);
            assert_eq!(format(duration), want);
        }
    }
}
