//! Unix seconds: the one place a `SystemTime` becomes an event's kind of time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in unix seconds (0 if the system clock is before 1970).
pub fn now() -> i64 {
    unix_seconds(SystemTime::now()).max(0)
}

/// `at` in whole unix seconds: negative before 1970, saturating at the ends of `i64`.
pub fn unix_seconds(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn whole_seconds_either_side_of_1970() {
        assert_eq!(unix_seconds(UNIX_EPOCH), 0);
        assert_eq!(
            unix_seconds(UNIX_EPOCH + Duration::new(1_700_000_000, 999_999_999)),
            1_700_000_000
        );
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(1)), -1);
        assert!(now() > 1_700_000_000);
    }
}
