//! Ordering values as dotted versions, the comparison `.field<value` uses for text.

use std::cmp::Ordering;

/// Compares dotted versions part by part: numbers as numbers, anything else as strings; when
/// one is a prefix of the other, the shorter is less (`0.29 < 0.29.0`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ordering = match (numeric(x), numeric(y)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
        }
    }
}

/// A part made only of ASCII digits, as a number (leading zeros ignored, any length).
fn numeric(part: &str) -> Option<(usize, &str)> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = part.trim_start_matches('0');
    // Longer digit strings are larger numbers; equal lengths compare as text.
    Some((digits.len(), digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        use Ordering::*;
        for (a, b, want) in [
            ("0.29.0", "0.30.1", Less),
            ("0.30.1", "0.100.0", Less),
            ("0.29", "0.29.0", Less),
            ("1.0.0", "1.0.0", Equal),
            ("01.2", "1.2", Equal),
            ("1.0.rc1", "1.0.rc2", Less),
            ("1.0.10", "1.0.9", Greater),
            ("99999999999999999999999", "1", Greater),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }
}
