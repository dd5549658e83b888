//! Durations and points in time as people write them: `90s`, `1h30m`, `500ms`, `2d`, and for
//! "since when" also an RFC 3339 time.
//!
//! [`parse`] reads Go's duration syntax (`time.ParseDuration`): a sequence of
//! decimal numbers, each with an optional fraction and a unit, such as `1h30m`, `1.5h`,
//! `2h45m30.5s` or `300ms`; units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. Two forms this
//! project always took are kept: a bare number is seconds (`30`, `1.5`), and `d` is a day of
//! 24 hours (`2d`, `1d12h`). Durations are never negative. Arithmetic is exact to the
//! nanosecond; digits finer than that are dropped, as Go drops them.
//!
//! Nothing longer than [`MAX`] (100 years) is accepted: no one means a longer
//! timeout or retention, and the bound keeps every later sum with a clock reading
//! (`Instant + timeout`, `now - since`) far inside what the clocks and JetStream's
//! nanosecond fields (an `i64`, about 292 years) can hold.
//!
//! [`Since`] is what `--since` takes: a duration back from now, or an RFC 3339 time
//! (`2026-11-30T10:00:00Z`, `2026-11-30T11:00:00+01:00`) read as Go reads `time.RFC3339Nano`.
//!
//! ```
//! use std::time::Duration;
//! use lifecycle_core::duration::{self, Since};
//!
//! assert_eq!(duration::parse("1h30m")?, Duration::from_secs(5400));
//! assert_eq!(duration::parse("30")?, Duration::from_secs(30));
//! assert_eq!(
//!     duration::parse("5000000d").unwrap_err().to_string(),
//!     "invalid duration '5000000d': longer than the maximum of 100 years (876600h)"
//! );
//! let since: Since = "2026-11-30T10:00:00Z".parse()?;
//! assert!(matches!(since, Since::Time(_)));
//! # Ok::<(), lifecycle_core::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::rfc3339;
use crate::terminal::TerminalSafe;

/// The longest duration accepted: 100 years of 365.25 days.
pub const MAX: Duration = Duration::from_secs(100 * 36_525 * 864);

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Reads a duration: Go's syntax (`1h30m`, `90s`, `500ms`, `1.5h`), a bare number of seconds
/// (`30`), or days (`2d`). See the [module](self) for the whole syntax.
pub fn parse(text: &str) -> Result<Duration, Error> {
    read(text).map_err(|problem| Error::duration(text, problem))
}

fn read(text: &str) -> Result<Duration, DurationProblem> {
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err(DurationProblem::Empty);
    }
    if rest.starts_with('-') {
        return Err(DurationProblem::Negative);
    }
    let max = MAX.as_nanos();
    let mut total: u128 = 0;
    let mut first = true;
    while !rest.is_empty() {
        let (whole, fraction, scale, after) = number(rest)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos = match unit {
            // A bare number is seconds, when it is the whole text.
            "" if first && after.is_empty() => NANOS_PER_SECOND,
            "" => {
                let number = &rest[..rest.len() - after.len()];
                return Err(DurationProblem::MissingUnit(number.to_owned()));
            }
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            "d" => 86_400 * NANOS_PER_SECOND,
            other => return Err(DurationProblem::UnknownUnit(other.to_owned())),
        };
        // `whole` is at most 10^38 / 10 and `fraction < scale <= 10^20`: no overflow below.
        total = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(fraction * unit_nanos / scale))
            .and_then(|n| n.checked_add(total))
            .filter(|&n| n <= max)
            .ok_or(DurationProblem::TooLong)?;
        rest = after;
        first = false;
    }
    let seconds = u64::try_from(total / NANOS_PER_SECOND).map_err(|_| DurationProblem::TooLong)?;
    // The remainder is below 10^9.
    let nanos = u32::try_from(total % NANOS_PER_SECOND).unwrap_or(0);
    Ok(Duration::new(seconds, nanos))
}

/// Splits a leading decimal number off `text`: its whole part, its fraction as
/// `fraction / scale`, and what follows. Digits past the 20th of a fraction are dropped.
fn number(text: &str) -> Result<(u128, u128, u128, &str), DurationProblem> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole_len = digits(text);
    let (whole_text, mut rest) = text.split_at(whole_len);
    let mut fraction_text = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = digits(after_dot);
        fraction_text = &after_dot[..len];
        rest = &after_dot[len..];
    }
    if whole_text.is_empty() && fraction_text.is_empty() {
        return Err(DurationProblem::ExpectedNumber(text.to_owned()));
    }
    // More than 30 digits is more than 100 years in nanoseconds, whatever the unit; fewer
    // fit in a u128 with room for the unit's factor (checked by the caller).
    if whole_text.trim_start_matches('0').len() > 30 {
        return Err(DurationProblem::TooLong);
    }
    let whole = whole_text
        .bytes()
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
    let (mut fraction, mut scale) = (0u128, 1u128);
    for d in fraction_text.bytes().take(20) {
        fraction = fraction * 10 + u128::from(d - b'0');
        scale *= 10;
    }
    Ok((whole, fraction, scale, rest))
}

/// Writes a duration in hours, minutes, seconds and milliseconds (`24h`, `1h30m`, `90s` is
/// `1m30s`, `500ms`): Go's style without its zero units.
pub fn format(duration: Duration) -> String {
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

/// What `--since` takes: how far back from now, or from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now (`1h`, `90m`).
    Ago(Duration),
    /// This instant (`2026-11-30T10:00:00Z`).
    Time(SystemTime),
}

impl Since {
    /// Reads a duration (as [`parse`]) or an RFC 3339 time.
    pub fn parse(text: &str) -> Result<Since, Error> {
        if let Some((unix, nanos)) = rfc3339::parse(text) {
            return time_of(unix, nanos)
                .map(Since::Time)
                .ok_or_else(|| Error::duration(text, DurationProblem::NotATime));
        }
        match read(text) {
            Ok(duration) => Ok(Since::Ago(duration)),
            // Digits, a '-' and more: meant as a date.
            Err(_) if looks_like_a_time(text) => {
                Err(Error::duration(text, DurationProblem::NotATime))
            }
            Err(problem) => Err(Error::duration(text, problem).for_since()),
        }
    }

    /// The instant to replay from, seen from `now`, or `None` for a time after `now`: there
    /// is nothing to replay yet.
    ///
    /// An instant before 1970 is 1970: nothing stored is older, and JetStream reads a start
    /// time as nanoseconds since 1970 in an `i64`, which a time before 1678 or after 2262
    /// overflows (nats-server then replays from an arbitrary point).
    pub fn start(&self, now: SystemTime) -> Option<SystemTime> {
        let start = match *self {
            Since::Ago(duration) => now.checked_sub(duration).unwrap_or(UNIX_EPOCH),
            Since::Time(time) if time > now => return None,
            Since::Time(time) => time,
        };
        Some(start.max(UNIX_EPOCH))
    }
}

impl FromStr for Since {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Since::parse(text)
    }
}

fn time_of(unix: i64, nanos: u32) -> Option<SystemTime> {
    let since_epoch = Duration::new(unix.unsigned_abs(), 0);
    let whole = if unix >= 0 {
        UNIX_EPOCH.checked_add(since_epoch)
    } else {
        UNIX_EPOCH.checked_sub(since_epoch)
    };
    whole?.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn looks_like_a_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// Why a text is not a duration.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationProblem {
    /// Nothing given.
    Empty,
    /// A `-` in front.
    Negative,
    /// No number where one was expected: what was found instead.
    ExpectedNumber(String),
    /// A number without a unit, after another part (`1h30`): the number.
    MissingUnit(String),
    /// A unit that is none of ns, us, µs, ms, s, m, h, d.
    UnknownUnit(String),
    /// Longer than [`MAX`].
    TooLong,
    /// Not an RFC 3339 time, in a text that looks like a date.
    NotATime,
}

impl fmt::Display for DurationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const EXAMPLES: &str = "a duration is like 90s, 1h30m, 500ms or 2d";
        match self {
            DurationProblem::Empty => write!(f, "empty; {EXAMPLES}"),
            DurationProblem::Negative => f.write_str("a duration cannot be negative"),
            DurationProblem::ExpectedNumber(found) => {
                write!(
                    f,
                    "expected a number at '{}'; {EXAMPLES}",
                    TerminalSafe(found)
                )
            }
            DurationProblem::MissingUnit(number) => write!(
                f,
                "'{}' has no unit (ns, us, ms, s, m, h or d)",
                TerminalSafe(number)
            ),
            DurationProblem::UnknownUnit(unit) => write!(
                f,
                "unknown unit '{}' (use ns, us, ms, s, m, h or d)",
                TerminalSafe(unit)
            ),
            DurationProblem::TooLong => write!(
                f,
                "longer than the maximum of 100 years ({}h)",
                MAX.as_secs() / 3600
            ),
            DurationProblem::NotATime => f.write_str(
                "not an RFC 3339 time (e.g. 2026-11-30T10:00:00Z or 2026-11-30T11:00:00+01:00)",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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

    #[test]
    fn durations() {
        let hour = Duration::from_secs(3600);
        let cases = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("30", Duration::from_secs(30)),
            ("1.5", ms(1500)),
            (".5", ms(500)),
            ("5.", Duration::from_secs(5)),
            ("+5s", Duration::from_secs(5)),
            ("90s", Duration::from_secs(90)),
            ("500ms", ms(500)),
            ("1.5s", ms(1500)),
            ("10m", Duration::from_secs(600)),
            ("2h", 2 * hour),
            ("1.5h", hour * 3 / 2),
            ("1h30m", Duration::from_secs(5400)),
            ("2h45m30.5s", Duration::from_millis(9_930_500)),
            ("1d", 24 * hour),
            ("1d12h", 36 * hour),
            ("1s1h", Duration::from_secs(3601)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("100μs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("1.000000001s", Duration::new(1, 1)),
            ("0.0000000019s", Duration::new(0, 1)),
            ("1.5ns", Duration::from_nanos(1)),
            ("0.000000000001h", Duration::from_nanos(3)),
            ("36525d", MAX),
            ("876600h", MAX),
            ("3155760000", MAX),
            ("0000000000000000000000000000001s", Duration::from_secs(1)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn errors_name_the_text_and_the_problem() {
        let cases = [
            (
                "",
                "invalid duration '': empty; a duration is like 90s, 1h30m, 500ms or 2d",
            ),
            (
                "-5s",
                "invalid duration '-5s': a duration cannot be negative",
            ),
            (
                "soon",
                "invalid duration 'soon': expected a number at 'soon'; a duration is like 90s, 1h30m, 500ms or 2d",
            ),
            (
                ".s",
                "invalid duration '.s': expected a number at '.s'; a duration is like 90s, 1h30m, 500ms or 2d",
            ),
            (
                "1h30",
                "invalid duration '1h30': '30' has no unit (ns, us, ms, s, m, h or d)",
            ),
            (
                "1.5.5s",
                "invalid duration '1.5.5s': '1.5' has no unit (ns, us, ms, s, m, h or d)",
            ),
            (
                "10y",
                "invalid duration '10y': unknown unit 'y' (use ns, us, ms, s, m, h or d)",
            ),
            (
                "5 s",
                "invalid duration '5 s': unknown unit ' s' (use ns, us, ms, s, m, h or d)",
            ),
            (
                "1S",
                "invalid duration '1S': unknown unit 'S' (use ns, us, ms, s, m, h or d)",
            ),
            (
                "1e3",
                "invalid duration '1e3': unknown unit 'e' (use ns, us, ms, s, m, h or d)",
            ),
            (
                "nan",
                "invalid duration 'nan': expected a number at 'nan'; a duration is like 90s, 1h30m, 500ms or 2d",
            ),
            (
                "5000000d",
                "invalid duration '5000000d': longer than the maximum of 100 years (876600h)",
            ),
            (
                "18446744073709551615",
                "invalid duration '18446744073709551615': longer than the maximum of 100 years (876600h)",
            ),
            (
                "99999999999999999999999999999999999999999h",
                "invalid duration '99999999999999999999999999999999999999999h': longer than the maximum of 100 years (876600h)",
            ),
            (
                "36525d1ns",
                "invalid duration '36525d1ns': longer than the maximum of 100 years (876600h)",
            ),
            (
                "1\u{1b}[2J",
                r"invalid duration '1\x1b[2J': unknown unit '\x1b[' (use ns, us, ms, s, m, h or d)",
            ),
        ];
        for (text, message) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.to_string(), message, "{text:?}");
            assert!(
                matches!(err.kind(), ErrorKind::Duration { text: refused, .. } if refused == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn since_takes_a_duration_or_a_time() {
        assert_eq!(
            Since::parse("1h"),
            Ok(Since::Ago(Duration::from_secs(3600)))
        );
        assert_eq!(
            Since::parse("2026-11-30T10:00:00Z"),
            Ok(Since::Time(UNIX_EPOCH + Duration::from_secs(1_796_032_800)))
        );
        assert_eq!(
            Since::parse("2026-11-30T11:00:00.25+01:00"),
            Ok(Since::Time(
                UNIX_EPOCH + Duration::new(1_796_032_800, 250_000_000)
            ))
        );
        assert_eq!(
            Since::parse("1969-12-31T23:59:59Z"),
            Ok(Since::Time(UNIX_EPOCH - Duration::from_secs(1)))
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            Since::Ago(Duration::from_secs(100)).start(now),
            Some(UNIX_EPOCH + Duration::from_secs(1_799_999_900))
        );
        assert_eq!(Since::Ago(MAX).start(now), Some(UNIX_EPOCH));
        let at = |unix| Since::Time(UNIX_EPOCH + Duration::from_secs(unix));
        assert_eq!(
            at(1_700_000_000).start(now),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(at(1_800_000_000).start(now), Some(now));
        assert_eq!(at(1_800_000_001).start(now), None);
        assert_eq!(
            Since::parse("2300-01-01T00:00:00Z").unwrap().start(now),
            None
        );
        assert_eq!(
            Since::parse("0000-01-01T00:00:00Z").unwrap().start(now),
            Some(UNIX_EPOCH)
        );
        let cases = [
            (
                "2026-11-31T10:00:00Z",
                "invalid time '2026-11-31T10:00:00Z': not an RFC 3339 time (e.g. 2026-11-30T10:00:00Z or 2026-11-30T11:00:00+01:00)",
            ),
            (
                "2026-11-30",
                "invalid time '2026-11-30': not an RFC 3339 time (e.g. 2026-11-30T10:00:00Z or 2026-11-30T11:00:00+01:00)",
            ),
            (
                "5000000d",
                "invalid duration '5000000d': longer than the maximum of 100 years (876600h) (or give an RFC 3339 time, e.g. 2026-11-30T10:00:00Z)",
            ),
            (
                "yesterday",
                "invalid duration 'yesterday': expected a number at 'yesterday'; a duration is like 90s, 1h30m, 500ms or 2d (or give an RFC 3339 time, e.g. 2026-11-30T10:00:00Z)",
            ),
        ];
        for (text, message) in cases {
            let err = Since::parse(text).unwrap_err();
            assert_eq!(err.to_string(), message, "{text}");
            let prefix = format!(
                "invalid {} '{text}': ",
                if message.starts_with("invalid time") {
                    "time"
                } else {
                    "duration"
                }
            );
            assert_eq!(
                err.reason(),
                message.strip_prefix(&prefix).unwrap(),
                "{text}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Never panics, and whatever it accepts is within the maximum.
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}|[0-9.]{0,45}(ns|us|µs|ms|s|m|h|d)?") {
            if let Ok(duration) = parse(&text) {
                prop_assert!(duration <= MAX);
            }
            let _ = Since::parse(&text);
        }

        /// Go's sums: each part adds its own value.
        #[test]
        fn parts_add_up(h in 0u64..1000, m in 0u64..1000, s in 0u64..1000, frac in 0u32..1000) {
            let text = format!("{h}h{m}m{s}.{frac:03}s");
            let expected = Duration::from_secs(h * 3600 + m * 60 + s) + ms(u64::from(frac));
            prop_assert_eq!(parse(&text), Ok(expected));
        }

        /// Whole milliseconds written as seconds read back exactly.
        #[test]
        fn seconds_round_trip(millis in 0u64..=MAX.as_millis() as u64) {
            let d = ms(millis);
            prop_assert_eq!(parse(&format!("{}.{:03}s", millis / 1000, millis % 1000)), Ok(d));
        }
    }
}
