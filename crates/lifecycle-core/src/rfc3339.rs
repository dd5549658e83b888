//! RFC 3339 UTC timestamps for CloudEvents' `time`, written by hand: it is on the hot path of
//! every CloudEvents serialisation and needs only whole seconds.

use std::fmt::Write;

/// Writes unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, as Go's RFC3339Nano does for whole seconds.
pub(crate) fn write_utc(out: &mut String, unix: i64) {
    let _ = write_to(out, unix);
}

fn write_to(out: &mut impl Write, unix: i64) -> std::fmt::Result {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    // Years outside 0..=9999 cannot be written in four digits; they keep their sign and
    // digits rather than fail, so no timestamp makes serialising panic or err.
    if (0..=9999).contains(&year) {
        write!(out, "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        write!(out, "{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

/// Whether `json` is the JSON string our serialiser writes for `unix`, checked without
/// allocating: this runs for every CloudEvent parsed.
pub(crate) fn is_utc(json: &str, unix: i64) -> bool {
    json.strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .is_some_and(|text| is_utc_text(text, unix))
}

/// Whether `text` is exactly what [`format_utc`] writes for `unix`.
pub(crate) fn is_utc_text(text: &str, unix: i64) -> bool {
    struct Buffer {
        bytes: [u8; 48],
        len: usize,
    }
    impl Write for Buffer {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            self.bytes
                .get_mut(self.len..end)
                .ok_or(std::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut buffer = Buffer {
        bytes: [0; 48],
        len: 0,
    };
    write_to(&mut buffer, unix).is_ok() && &buffer.bytes[..buffer.len] == text.as_bytes()
}

/// Formats unix seconds as an RFC 3339 UTC string, as events' CloudEvents `time` is
/// written (`2023-11-14T22:13:20Z`).
pub fn format_utc(unix: i64) -> String {
    let mut out = String::with_capacity(20);
    write_utc(&mut out, unix);
    out
}

/// Howard Hinnant's days-to-civil algorithm, in i64 so that every i64 timestamp is valid.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Reads an RFC 3339 date-time as Go's `time.Parse(time.RFC3339Nano, ..)` does
/// (`time/format_rfc3339.go`): `YYYY-MM-DDTHH:MM:SS`, an optional fraction of one or more
/// digits (those past nanoseconds are dropped, as Go drops them), then `Z` or `+HH:MM` /
/// `-HH:MM`; every field in its range, the day within its month, no leap second, upper-case
/// `T` and `Z`. Returns the unix seconds and nanoseconds of the instant, or `None`.
pub(crate) fn parse(text: &str) -> Option<(i64, u32)> {
    let b = text.as_bytes();
    let number = |from: usize, len: usize, max: i64| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        let value = digits.iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })?;
        (value <= max).then_some(value)
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(i, c)| b.get(i) == Some(&c)) {
        return None;
    }
    let (year, month, day) = (number(0, 4, 9999)?, number(5, 2, 12)?, number(8, 2, 31)?);
    let (hour, minute, second) = (number(11, 2, 23)?, number(14, 2, 59)?, number(17, 2, 59)?);
    let days = days_from_civil(year, month, day);
    // A day past the end of its month (or month 0, day 0) comes back as another date.
    if civil_from_days(days) != (year, month, day) {
        return None;
    }
    let mut rest = b.get(19..)?;
    let mut nanos = 0u32;
    if let [b'.', first, ..] = rest
        && first.is_ascii_digit()
    {
        let digits = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
        let mut scale = 100_000_000;
        for d in &rest[1..1 + digits.min(9)] {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
        }
        rest = &rest[1 + digits..];
    }
    let offset = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = number(b.len() - 5, 2, 23)?;
            let minutes = number(b.len() - 2, 2, 59)?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let unix = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((unix, nanos))
}

/// Howard Hinnant's civil-to-days algorithm, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (1_535_106_973, "2018-08-24T10:36:13Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ];
        for (unix, want) in cases {
            assert_eq!(format_utc(unix), want, "{unix}");
        }
    }

    #[test]
    fn extremes_do_not_panic() {
        for unix in [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
            assert!(format_utc(unix).ends_with('Z'));
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::{civil_from_days, days_from_civil, format_utc, parse};
    use proptest::prelude::*;

    #[test]
    fn reads_like_go() {
        let cases = [
            ("1970-01-01T00:00:00Z", (0, 0)),
            ("2023-11-14T22:13:20Z", (1_700_000_000, 0)),
            ("2023-11-14T23:13:20+01:00", (1_700_000_000, 0)),
            ("2023-11-14T21:43:20-00:30", (1_700_000_000, 0)),
            ("2026-11-30T10:00:00Z", (1_796_032_800, 0)),
            ("1984-02-28T15:04:05.999999999Z", (446_828_645, 999_999_999)),
            (
                "1984-02-28T15:04:05.9999999999999Z",
                (446_828_645, 999_999_999),
            ),
            ("1984-02-28T15:04:05.5Z", (446_828_645, 500_000_000)),
            ("2000-02-29T00:00:00+01:00", (951_778_800, 0)),
            ("1969-12-31T23:59:59Z", (-1, 0)),
            ("0000-01-01T00:00:00Z", (-62_167_219_200, 0)),
            ("9999-12-31T23:59:59.5Z", (253_402_300_799, 500_000_000)),
            ("2023-11-14T22:13:20-23:59", (1_700_086_340, 0)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for invalid in [
            "",
            "2019-02-28",
            "2023-11-14 22:13:20Z",
            "2023-11-14t22:13:20Z",
            "2023-11-14T22:13:20z",
            "2023-11-14T22:13:20",
            "2023-11-14T2:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20,5Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:60:00Z",
            "2016-12-31T23:59:60Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-00-01T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2023-04-00T00:00:00Z",
            "2023-11-14T22:13:20+24:00",
            "2023-11-14T22:13:20+01:60",
            "2023-11-14T22:13:20+0100",
            "2023-11-14T22:13:20Z ",
            "+2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.5",
            "2023-11-14T22:13:20+1:00",
            "１９８４-02-28T15:04:05Z",
        ] {
            assert_eq!(parse(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn days_round_trip() {
        for days in [-719_528, -1, 0, 1, 10_957, 19_675, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever we write, we read back.
        #[test]
        fn reads_what_it_writes(unix in -62_167_219_200i64..=253_402_300_799) {
            prop_assert_eq!(parse(&format_utc(unix)), Some((unix, 0)));
        }

        /// What we accept, chrono accepts as the same instant (chrono is more lenient: a
        /// lower-case `t`, a space, a leap second).
        #[test]
        fn agrees_with_chrono(text in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,12})?(Z|[+-][0-2][0-9]:[0-6][0-9])") {
            let ours = parse(&text);
            let chrono = chrono::DateTime::parse_from_rfc3339(&text).ok();
            if let Some((unix, nanos)) = ours {
                let chrono = chrono.expect("chrono accepts what we accept");
                prop_assert_eq!((chrono.timestamp(), chrono.timestamp_subsec_nanos()), (unix, nanos));
            } else if let Some(chrono) = chrono {
                // Only a leap second (:60) is chrono's alone.
                prop_assert_eq!(&text[17..19], "60", "chrono alone accepts {} as {}", text, chrono);
            }
        }
    }
}
