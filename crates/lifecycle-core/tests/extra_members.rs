//! Members a type does not define are kept and written back.

use lifecycle_core::parse;

/// A key known to another event type is kept as an extra member even when the event lacks
/// one of its own keys (the key count alone cannot tell).
#[test]
fn foreign_keys_survive_when_own_keys_are_missing() {
    for input in [
        r#"{"protocol":"io.choria.lifecycle.v1.shutdown","id":"1","identity":"n1","timestamp":1,"version":"1.2.3"}"#,
        r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"1","identity":"n1","component":"server","timestamp":1,"machine":"m"}"#,
    ] {
        let parsed = parse(input.as_bytes()).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&parsed.to_json()).unwrap();
        let extra_key = if input.contains("machine") {
            "machine"
        } else {
            "version"
        };
        let original: serde_json::Value = serde_json::from_str(input).unwrap();
        assert_eq!(written[extra_key], original[extra_key], "{input}");
    }
}
