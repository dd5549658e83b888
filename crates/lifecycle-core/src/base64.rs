//! Standard base64 (RFC 4648 §4, padded) for a CloudEvent's `data_base64`: small enough to
//! write here rather than add a crate for parse-only users. It accepts exactly what the
//! `base64` crate's `STANDARD` engine accepts: the standard alphabet, canonical `=` padding,
//! no white space, and no set bits left over after the last byte. The tests hold it to that
//! crate.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in standard base64 with padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    let letter = |sextet: u32| char::from(ALPHABET[(sextet & 0x3f) as usize]);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| chunk.get(i).copied().map_or(0, u32::from);
        let group = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(letter(group >> 18));
        out.push(letter(group >> 12));
        out.push(if chunk.len() > 1 {
            letter(group >> 6)
        } else {
            '='
        });
        out.push(if chunk.len() > 2 { letter(group) } else { '=' });
    }
    out
}

/// The bytes `text` encodes, or `None` when it is not canonical padded standard base64.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let groups = text.len() / 4;
    for (n, group) in text.chunks_exact(4).enumerate() {
        // Padding only at the very end: `xx==` or `xxx=`.
        let padding = match group {
            [_, _, b'=', b'='] => 2,
            [_, _, _, b'='] => 1,
            _ => 0,
        };
        if padding > 0 && n + 1 != groups {
            return None;
        }
        let mut bits = 0u32;
        for &letter in &group[..4 - padding] {
            bits = (bits << 6) | u32::from(value(letter)?);
        }
        bits <<= 6 * padding;
        let [_, first, second, third] = bits.to_be_bytes();
        match padding {
            0 => out.extend_from_slice(&[first, second, third]),
            // The bits past the last whole byte must be zero.
            1 if third == 0 => out.extend_from_slice(&[first, second]),
            2 if second == 0 && third == 0 => out.push(first),
            _ => return None,
        }
    }
    Some(out)
}

/// A letter's six bits.
fn value(letter: u8) -> Option<u8> {
    match letter {
        b'A'..=b'Z' => Some(letter - b'A'),
        b'a'..=b'z' => Some(letter - b'a' + 26),
        b'0'..=b'9' => Some(letter - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::{decode, encode};

    #[test]
    fn encodes_and_decodes_rfc4648_vectors() {
        for (bytes, text) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(bytes.as_bytes()), text);
            assert_eq!(decode(text).as_deref(), Some(bytes.as_bytes()));
        }
    }

    #[test]
    fn rejects_what_the_standard_engine_rejects() {
        for text in [
            "Zg",
            "Zg=",
            "Zh==",
            "Zm9=",
            "Zg==Zg==",
            "Z===",
            "====",
            "Zm9v\n",
            " Zm9v",
            "Zm-v",
            "Zm_v",
            "Zm9v=",
            "not base64!",
            "Zg=a",
            "=Zm9",
        ] {
            assert_eq!(decode(text), None, "{text:?}");
            assert!(STANDARD.decode(text).is_err(), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn encodes_as_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(encode(&bytes), STANDARD.encode(&bytes));
            prop_assert_eq!(decode(&encode(&bytes)), Some(bytes));
        }

        #[test]
        fn decodes_as_the_base64_crate(text in "[A-Za-z0-9+/=!\\- \n]{0,24}") {
            prop_assert_eq!(decode(&text), STANDARD.decode(&text).ok());
        }

        #[test]
        fn decodes_near_misses_as_the_base64_crate(
            bytes in proptest::collection::vec(any::<u8>(), 0..16),
            at in any::<prop::sample::Index>(),
            letter in "[A-Za-z0-9+/=]",
        ) {
            // A valid encoding with one letter changed: padding and trailing-bit edge cases.
            let mut text = STANDARD.encode(&bytes).into_bytes();
            if !text.is_empty() {
                let i = at.index(text.len());
                text[i] = letter.as_bytes()[0];
            }
            let text = String::from_utf8(text).unwrap();
            prop_assert_eq!(decode(&text), STANDARD.decode(&text).ok());
        }
    }
}
