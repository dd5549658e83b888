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
