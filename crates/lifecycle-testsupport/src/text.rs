//! Text a test compares or sends: JSON without its white space, a query parameter encoded.

/// JSON text without the white space outside strings, so a pretty file compares with
/// compact output byte for byte: same values, same key order.
pub fn minify(json: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// `text` percent-encoded for a URL's query: every byte but RFC 3986's unreserved ones.
pub fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_what_is_inside_strings() {
        assert_eq!(
            minify("{\n  \"a b\": \"c \\\" d\",\n  \"e\": [1, 2]\n}\n"),
            r#"{"a b":"c \" d","e":[1,2]}"#
        );
    }

    #[test]
    fn encode_query_keeps_only_unreserved_bytes() {
        assert_eq!(encode_query("a=b&c é~"), "a%3Db%26c%20%C3%A9~");
    }
}
