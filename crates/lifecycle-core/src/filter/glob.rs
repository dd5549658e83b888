//! The globs of `key=value` and `.field=value`: `*` and `?`.

/// `*` matches any run of characters, `?` any one character; everything else itself.
pub(super) fn glob_matches(pattern: &str, text: &str) -> bool {
    // Positions are byte offsets on character boundaries; `rest` slices from them.
    let rest = |s: &str, at: usize| s.get(at..).and_then(|s| s.chars().next());
    let (mut p, mut t) = (0, 0);
    // After a `*`: where the pattern resumes, and where in the text it last tried to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(tc) = rest(text, t) {
        match rest(pattern, p) {
            Some(pc) if pc == '?' || pc == tc => {
                p += pc.len_utf8();
                t += tc.len_utf8();
            }
            Some('*') => {
                p += 1;
                star = Some((p, t));
            }
            _ => match star {
                // Let the `*` take one more character and try again from there.
                Some((after, tried)) => {
                    let next = tried + rest(text, tried).map_or(1, char::len_utf8);
                    p = after;
                    t = next;
                    star = Some((after, next));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|left| left.chars().all(|c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (pattern, text, want) in [
            ("*", "", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.example.net", "web1.example.net", true),
            ("wé?", "wéb", true),
            ("**x", "ax", true),
        ] {
            assert_eq!(glob_matches(pattern, text), want, "{pattern} vs {text}");
        }
    }
}
