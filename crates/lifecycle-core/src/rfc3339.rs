//! RFC 3339 timestamps for CloudEvents' `time`, written by hand: writing is on the hot path of
//! every CloudEvents serialisation and needs only whole seconds; reading only checks the form.

/// The unix seconds of 0000-01-01T00:00:00Z and of 9999-12-31T23:59:59Z: RFC 3339 has four
/// digits for the year, so only the times between can be written.
const FIRST: i64 = -62_167_219_200;
const LAST: i64 = 253_402_300_799;

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, as Go's RFC3339Nano writes whole seconds; `None`
/// for a year RFC 3339 cannot write (Go would write more digits, which no RFC 3339 reader,
/// Go's included, reads back). Digits are placed directly: this runs for every CloudEvent
/// written and every one parsed.
fn utc(unix: i64) -> Option<[u8; 20]> {
    if !can_write(unix) {
        return None;
    }
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            // Every value is in range for its width: a digit each.
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    Some(out)
}

/// Whether `text` is exactly what [`format_utc`] writes for `unix`.
pub(crate) fn is_utc_text(text: &str, unix: i64) -> bool {
    utc(unix).is_some_and(|utc| utc == text.as_bytes())
}

/// Whether unix seconds fall in the years RFC 3339 can write, 0000 to 9999.
pub(crate) fn can_write(unix: i64) -> bool {
    (FIRST..=LAST).contains(&unix)
}

/// Unix seconds as an RFC 3339 UTC string, as events' CloudEvents `time` is written
/// (`2023-11-14T22:13:20Z`); `None` outside the years 0000 to 9999.
pub fn format_utc(unix: i64) -> Option<String> {
    utc(unix).map(|utc| utc.iter().map(|&b| char::from(b)).collect())
}

/// Whether `text`, which [`parse`] read as `parsed`, is exactly what [`format_utc`] writes
/// for `unix`: [`is_utc_text`] without writing the time.
pub(crate) fn is_utc_parsed(text: &str, parsed: (i64, u32), unix: i64) -> bool {
    // Of what `parse` reads, only whole seconds in UTC (`YYYY-MM-DDTHH:MM:SSZ`) are 20 bytes
    // long, and each second has one such text.
    text.len() == 20 && parsed == (unix, 0)
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
    use super::{format_utc, parse};

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
            assert_eq!(format_utc(unix).as_deref(), Some(want), "{unix}");
            assert!(parse(want).is_some());
        }
    }

    #[test]
    fn years_rfc3339_cannot_write_are_not_written() {
        assert_eq!(
            format_utc(-62_167_219_200).as_deref(),
            Some("0000-01-01T00:00:00Z")
        );
        for unix in [-62_167_219_201, 253_402_300_800, i64::MIN, i64::MAX] {
            assert_eq!(format_utc(unix), None, "{unix}");
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::{civil_from_days, days_from_civil, format_utc, is_utc_parsed, is_utc_text, parse};
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
            prop_assert_eq!(format_utc(unix).and_then(|text| parse(&text)), Some((unix, 0)));
        }

        /// Comparing what was read gives what comparing the text with the time written gives.
        #[test]
        fn compares_read_time_as_written(
            text in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,3})?(Z|[+-]0[0-2]:[03]0)",
            delta in -3601i64..=3601,
        ) {
            if let Some(parsed) = parse(&text) {
                for unix in [parsed.0, parsed.0 + delta] {
                    prop_assert_eq!(is_utc_parsed(&text, parsed, unix), is_utc_text(&text, unix), "{} {}", text, unix);
                }
            }
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
