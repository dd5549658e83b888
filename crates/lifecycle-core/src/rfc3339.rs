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

/// Unix seconds as an RFC 3339 UTC string; `None` outside the years 0000 to 9999.
pub(crate) fn format_utc(unix: i64) -> Option<String> {
    utc(unix).map(|utc| utc.iter().map(|&b| char::from(b)).collect())
}

/// Whether `text` is an RFC 3339 date-time as Go's `time.Parse(time.RFC3339Nano, ..)` reads
/// it (Go's `parseRFC3339`, `time/format_rfc3339.go`): `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction of one or more digits, then `Z` or `+HH:MM`/`-HH:MM`; every field in its range,
/// the day within its month, no leap second, upper-case `T` and `Z`. (Go falls back to its
/// general layout parser, which also takes a one-digit hour or a `,` before the fraction:
/// those are not RFC 3339 and are refused here.)
pub(crate) fn is_valid(text: &str) -> bool {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>, max: u32| -> Option<u32> {
        let digits = b.get(range)?;
        let value = digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })?;
        (value <= max).then_some(value)
    };
    let date_time = (|| {
        let year = number(0..4, 9999)?;
        let month = number(5..7, 12).filter(|&m| m >= 1)?;
        let day = number(8..10, days_in_month(year, month)).filter(|&d| d >= 1)?;
        let _ = (
            number(11..13, 23)?,
            number(14..16, 59)?,
            number(17..19, 59)?,
        );
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        separators
            .iter()
            .all(|&(i, c)| b.get(i) == Some(&c))
            .then_some(day)
    })();
    if date_time.is_none() {
        return false;
    }
    let mut rest = b.get(19..).unwrap_or_default();
    if let [b'.', d, ..] = rest {
        if d.is_ascii_digit() {
            let digits = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
            rest = &rest[1 + digits..];
        }
    }
    match rest {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let two = |tens: u8, ones: u8, max: u32| {
                (tens.is_ascii_digit() && ones.is_ascii_digit())
                    && u32::from(tens - b'0') * 10 + u32::from(ones - b'0') <= max
            };
            two(*h1, *h2, 23) && two(*m1, *m2, 59)
        }
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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

#[cfg(test)]
mod tests {
    use super::{format_utc, is_valid};

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
            assert!(is_valid(want));
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

    #[test]
    fn validates_like_go() {
        for valid in [
            "2023-11-14T22:13:20Z",
            "1984-02-28T15:04:05.999999999Z",
            "1984-02-28T15:04:05.9999999999999Z",
            "2000-02-29T00:00:00+01:00",
            "2023-11-14T22:13:20-23:59",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.5Z",
        ] {
            assert!(is_valid(valid), "{valid}");
        }
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
            "2023-11-14T22:13:20+24:00",
            "2023-11-14T22:13:20+01:60",
            "2023-11-14T22:13:20+0100",
            "2023-11-14T22:13:20Z ",
            "+2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.5",
            "１９８４-02-28T15:04:05Z",
        ] {
            assert!(!is_valid(invalid), "{invalid}");
        }
    }
}
