//! An event's CloudEvents HTTP request, headers and body, written by hand from our own event.
//! Going through the SDK cost about a quarter of each request's instructions: every
//! attribute copied into a `cloudevents::Event`, the event's JSON parsed back into a tree,
//! `source` checked as a URI, each header's name assembled and checked. The SDK's reqwest
//! binding stays the reference: differential tests hold the two to the same bytes, and what
//! the hand path does not write goes through the SDK ([`crate::Forwarder::prepare`]).

use bytes::Bytes;
use lifecycle_core::{AnyEvent, LIFECYCLE_SOURCE, MACHINE_SOURCE, format_utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::ser::{SerializeMap, Serializer};

use crate::http::Mode;

const JSON: &str = "application/json";
const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

/// One event's request to a receiver, built once for all its attempts: each sends the same
/// headers and body, so a machine event keeps the one CloudEvent id it was given.
#[derive(Debug, Clone)]
pub struct Encoded {
    id: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Encoded {
    /// The request's headers and body, taken from one the SDK's binding filled, but for the
    /// headers `base` has already (see [`Encoded::request`]).
    pub(crate) fn from_request(
        id: &str,
        request: &reqwest::Request,
        base: &reqwest::Request,
    ) -> Encoded {
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        // Copied in order (removing from a `HeaderMap` moves its last entry into the gap).
        let mut headers = HeaderMap::with_capacity(request.headers().len());
        for (name, value) in request.headers() {
            if !base.headers().contains_key(name) {
                headers.append(name, value.clone());
            }
        }
        Encoded {
            id: id.to_owned(),
            headers,
            body: Bytes::copy_from_slice(body),
        }
    }

    /// The CloudEvent's `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The headers: `ce-*` and `content-type` in binary mode, `content-type` in structured.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body: the event's JSON in binary mode, the whole CloudEvent in structured.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// It as a request: `base` (a POST built by reqwest's builder, with no body) with these
    /// headers after its own, as the SDK's binding adds them, and this body.
    pub(crate) fn request(&self, base: &reqwest::Request) -> reqwest::Request {
        let mut request = reqwest::Request::new(reqwest::Method::POST, base.url().clone());
        let headers = request.headers_mut();
        if base.headers().is_empty() {
            *headers = self.headers.clone();
        } else {
            // An `Authorization` header from a user and password in the URL.
            *headers = base.headers().clone();
            for (name, value) in &self.headers {
                headers.append(name, value.clone());
            }
        }
        *request.body_mut() = Some(self.body.clone().into());
        request
    }
}

/// `event` as the CloudEvent `id` in `mode`, written as the SDK's binding writes it; `None`
/// for what the hand path leaves to the SDK, whose errors say it as they always did: in
/// binary mode, an attribute no header can hold (a control character in the identity); a
/// time outside the years 0000 to 9999 (chrono writes a sign and more digits, or nothing); a
/// member of the event's own that `serde_json` cannot read (a number out of range).
pub(crate) fn by_hand(event: &AnyEvent, id: &str, mode: Mode) -> Option<Encoded> {
    // `YYYY-MM-DDTHH:MM:SSZ`: chrono's serde form, which the structured body has.
    let time = format_utc(event.timestamp())?;
    // The SDK holds `data` as a `serde_json::Value` (keys sorted), and so it is written here.
    let data = serde_json::to_value(event).ok()?;
    let source = match event {
        AnyEvent::Lifecycle(_) => LIFECYCLE_SOURCE,
        AnyEvent::Machine(_) => MACHINE_SOURCE,
    };
    let protocol = event.protocol();
    let subject = Some(event.identity().trim()).filter(|s| !s.is_empty());
    let (headers, body) = match mode {
        Mode::Binary => {
            let header = |value: &str| HeaderValue::from_str(value).ok();
            // In the SDK's order: spec version, then id, type, source, datacontenttype,
            // subject, time.
            let mut headers = HeaderMap::with_capacity(8);
            let mut put = |name: &'static str, value: HeaderValue| {
                headers.append(HeaderName::from_static(name), value);
            };
            put("ce-specversion", HeaderValue::from_static("1.0"));
            put("ce-id", header(id)?);
            put("ce-type", header(&protocol)?);
            put("ce-source", HeaderValue::from_static(source));
            headers.append(CONTENT_TYPE, HeaderValue::from_static(JSON));
            if let Some(subject) = subject {
                headers.append(HeaderName::from_static("ce-subject"), header(subject)?);
            }
            // chrono's `to_rfc3339`, which the SDK writes in headers: `+00:00` for `Z`.
            let time = format!("{}+00:00", time.trim_end_matches('Z'));
            headers.append(HeaderName::from_static("ce-time"), header(&time)?);
            let body = serde_json::to_vec(&data).expect("a JSON value is written to memory");
            (headers, body)
        }
        Mode::Structured => {
            let mut body = Vec::with_capacity(512);
            let mut serializer = serde_json::Serializer::new(&mut body);
            // The SDK's structured form: its attribute order, `data` last.
            let written = (|| {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("specversion", "1.0")?;
                map.serialize_entry("id", id)?;
                map.serialize_entry("type", &*protocol)?;
                map.serialize_entry("source", source)?;
                map.serialize_entry("datacontenttype", JSON)?;
                if let Some(subject) = subject {
                    map.serialize_entry("subject", subject)?;
                }
                map.serialize_entry("time", &time)?;
                map.serialize_entry("data", &data)?;
                map.end()
            })();
            written.expect("strings and a JSON value are written to memory");
            let mut headers = HeaderMap::with_capacity(1);
            headers.append(CONTENT_TYPE, HeaderValue::from_static(CLOUDEVENTS_JSON));
            (headers, body)
        }
    };
    Some(Encoded {
        id: id.to_owned(),
        headers,
        body: body.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::with_id;
    use lifecycle_core::ErrorChain as Chain;

    use crate::error::ErrorKind;
    use crate::{Forwarder, to_cloudevent};
    use serde_json::{Value, json};

    /// Identities no builder makes but a sender can publish: control characters, non-ASCII,
    /// what JSON and Go escape, white space that trims to nothing.
    const HOSTILE: &[&str] = &[
        "node1.example.net",
        "",
        "   ",
        "\u{a0}node\u{a0}",
        " node1.example.net\t",
        "bad\nnode",
        "bad\rnode",
        "tab\tinside",
        "nul\u{0}",
        "del\u{7f}",
        "esc\u{1b}[31m",
        "\u{85}next line",
        "é😀ü",
        "ünïcödé.example.net",
        "<script>&</script>",
        "a\u{2028}b\u{2029}c",
        "quote\" backslash\\ slash/",
        "\u{feff}bom",
        "x\u{10ffff}",
    ];

    /// A small deterministic generator for more identities (xorshift).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn string(&mut self) -> String {
            const PIECES: &[&str] = &[
                "a", "Z", "0", ".", "-", " ", "\t", "\n", "\r", "\u{0}", "\u{1f}", "\u{7f}",
                "\u{80}", "\u{a0}", "é", "😀", "\u{2028}", "<", "&", "\"", "\\", "/", ":", ";",
                ",", "=", "%", "\u{fffd}", "\u{3000}",
            ];
            let len = self.next() % 12;
            (0..len)
                .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
                .collect()
        }
    }

    fn parsed(value: Value) -> AnyEvent {
        lifecycle_core::parse(&serde_json::to_vec(&value).unwrap())
            .unwrap_or_else(|e| panic!("{value}: {e}"))
            .into_event()
    }

    fn events() -> Vec<AnyEvent> {
        let mut events = Vec::new();
        let base = |identity: &str, timestamp: i64| {
            json!({
                "protocol": "io.choria.lifecycle.v1.startup",
                "id": "6b0b2a6e-1f0e-4c1a-9d2e-000000000007",
                "identity": identity,
                "component": "server",
                "timestamp": timestamp,
                "version": "0.29.4",
            })
        };
        for identity in HOSTILE {
            events.push(parsed(base(identity, 1_700_000_000)));
        }
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let identity = random.string();
            let mut event = base(&identity, (random.next() % 253_402_300_800) as i64);
            event["component"] = random.string().into();
            event["version"] = random.string().into();
            event["id"] = random.string().into();
            events.push(parsed(event));
        }
        // Every type, and the times the hand path writes and those it leaves to the SDK.
        for timestamp in [
            0,
            -1,
            -62_167_219_200,
            253_402_300_799,
            253_402_300_800,
            -62_167_219_201,
            i64::MAX,
            i64::MIN,
        ] {
            events.push(parsed(base("n1", timestamp)));
        }
        for (protocol, extra) in [
            ("shutdown", json!({})),
            ("provisioned", json!({})),
            ("alive", json!({"version": "1.2.3"})),
            (
                "upgraded",
                json!({"version": "1.2.3", "new_version": "1.3.0"}),
            ),
            (
                "governor",
                json!({"governor": "PUPPET", "sequence": 3, "event_type": "enter"}),
            ),
            (
                "governor",
                json!({"governor": "G<&>", "sequence": 0, "event_type": "bogus"}),
            ),
        ] {
            let mut event = base("n1.example.net", 1_700_000_000);
            event["protocol"] = format!("io.choria.lifecycle.v1.{protocol}").into();
            event.as_object_mut().unwrap().remove("version");
            for (key, value) in extra.as_object().unwrap() {
                event[key] = value.clone();
            }
            events.push(parsed(event));
        }
        // Members of our own: the SDK rewrites them through its tree (numbers, key order).
        events.push(parsed(json!({
            "protocol": "choria:lifecycle:startup:1",
            "id": "1",
            "identity": "n1",
            "component": "server",
            "timestamp": 1_700_000_000,
            "version": "0.29.4",
            "zzz": {"b": [1.0, 1e2, -0.0, 12345678901234567890u64], "a": null},
            "aaa": "\u{2028}<x>",
            "mmm": true,
        })));
        for text in [
            r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"2","identity":"n","component":"c","timestamp":1,"version":"v","big":1e400,"neg":-12,"f":1.50,"s":"\u003c\ud83d\ude00"}"#,
            r#"{"protocol":"io.choria.machine.v1.transition","identity":"m1\u0007","id":"a1b2","version":"1.0.0","timestamp":1700000100,"machine":"deploy","transition":"go","from_state":"idle","to_state":"running"}"#,
            r#"{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"m2","id":"d4e5f6","version":"1.0.0","timestamp":1700000200,"type":"exec","machine":"deploy","name":"check","command":"/bin/true","previous_outcome":"success","previous_run_time":1500000}"#,
            r#"{"protocol":"io.choria.machine.watcher.file.v1.state","identity":"m3","id":"d4e5f7","version":"1.0.0","timestamp":1700000300,"type":"file","machine":"deploy","name":"watch","extra":[3,2,1]}"#,
            r#"{"protocol":"io.choria.machine.watcher.b\u0000d.v1.state","identity":"m4","id":"x","version":"1","timestamp":1,"type":"b\u0000d","machine":"m","name":"n"}"#,
        ] {
            events.push(
                lifecycle_core::parse(text.as_bytes())
                    .unwrap_or_else(|e| panic!("{text}: {e}"))
                    .into_event(),
            );
        }
        events
    }

    /// Headers in the order they are written, and the body: the whole request but its URL.
    fn bytes(headers: &HeaderMap, body: &[u8]) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
        let headers = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        (headers, body.to_vec())
    }

    #[test]
    fn by_hand_writes_what_the_sdk_binding_writes() {
        let forwarder = Forwarder::new("http://127.0.0.1:9/", Mode::Binary).unwrap();
        let structured = Forwarder::new("http://127.0.0.1:9/", Mode::Structured).unwrap();
        let (mut written, mut refused, mut left) = (0, 0, 0);
        for event in events() {
            let cloudevent = event.cloudevent();
            let id = cloudevent.id();
            for (mode, forwarder) in [(Mode::Binary, &forwarder), (Mode::Structured, &structured)] {
                let what = format!("{mode} {:?}", String::from_utf8_lossy(&event.to_json()));
                let sdk = with_id(&event, id).and_then(|e| forwarder.sdk_request(e));
                match (by_hand(&event, id, mode), sdk) {
                    (Some(hand), Ok(sdk)) => {
                        let expected = sdk.body().and_then(reqwest::Body::as_bytes).unwrap();
                        assert_eq!(
                            bytes(hand.headers(), hand.body()),
                            bytes(sdk.headers(), expected),
                            "{what}"
                        );
                        assert_eq!(hand.id(), id);
                        written += 1;
                    }
                    // Left to the SDK: a time or a member the hand path does not write, and
                    // in binary mode what no header can hold, which the SDK refuses.
                    (None, sdk) => {
                        let unwritable = format_utc(event.timestamp()).is_none()
                            || serde_json::to_value(&event).is_err();
                        match sdk {
                            Err(e) if e.kind() == &ErrorKind::Unencodable(Mode::Binary) => {
                                assert!(!unwritable, "{what}");
                                assert_eq!(mode, Mode::Binary, "{what}");
                                refused += 1;
                            }
                            _ => {
                                assert!(unwritable, "{what}");
                                left += 1;
                            }
                        }
                    }
                    (Some(hand), Err(sdk)) => panic!("{what}: by hand {hand:?}, SDK {sdk}"),
                }
            }
        }
        // Every branch is exercised, and most events are written by hand.
        assert!(written > 2000, "{written}");
        assert!(refused > 100, "{refused}");
        // Four times outside 0000 to 9999 and a number out of range, in both modes.
        assert_eq!(left, 10);
    }

    #[test]
    fn what_the_hand_path_leaves_goes_through_the_sdk() {
        let forwarder = Forwarder::new("http://127.0.0.1:9/", Mode::Binary).unwrap();
        let event = parsed(json!({
            "protocol": "io.choria.lifecycle.v1.shutdown",
            "id": "1", "identity": "n", "component": "c", "timestamp": 253_402_300_800i64,
        }));
        let encoded = forwarder.prepare(&event).unwrap();
        let sdk = forwarder
            .sdk_request(to_cloudevent(&event).unwrap())
            .unwrap();
        assert_eq!(encoded.headers(), sdk.headers());
        assert_eq!(encoded.headers()["ce-time"], "+10000-01-01T00:00:00+00:00");
        let error = forwarder
            .prepare(&parsed(json!({
                "protocol": "io.choria.lifecycle.v1.shutdown",
                "id": "1", "identity": "n", "component": "c", "timestamp": i64::MAX,
            })))
            .unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::Sdk);
        assert_eq!(
            Chain(&error).to_string(),
            "the CloudEvents SDK refused the event: timestamp 9223372036854775807 is out of range"
        );
        // Refused in binary mode as the SDK's binding refuses it; structured mode carries it.
        let poison = parsed(json!({
            "protocol": "io.choria.lifecycle.v1.shutdown",
            "id": "1", "identity": "bad\nnode", "component": "c", "timestamp": 1,
        }));
        let error = forwarder.prepare(&poison).unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::Unencodable(Mode::Binary));
        assert_eq!(
            Chain(&error).to_string(),
            "the event cannot be made into an HTTP request in binary mode (an attribute such as \
             the identity holds a character an HTTP header cannot; structured mode can carry \
             it): builder error: failed to parse header value"
        );
        let structured = Forwarder::new("http://127.0.0.1:9/", Mode::Structured).unwrap();
        let body: Value =
            serde_json::from_slice(structured.prepare(&poison).unwrap().body()).unwrap();
        assert_eq!(body["subject"], "bad\nnode");
    }

    /// The exact bytes on the wire, one request from each path through the same client.
    #[tokio::test]
    async fn the_same_bytes_reach_the_receiver() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // A user and a password (reqwest moves them into an `Authorization` header) and a
        // query, both percent-encoded.
        let url = format!(
            "http://us%C3%A9r:s%20cr%3At@{}/hook?key=s%26cret",
            listener.local_addr().unwrap()
        );
        // One request per connection, read until the body's declared length, then 200.
        let receiver = tokio::spawn(async move {
            let mut requests = Vec::new();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                let complete = |r: &[u8]| {
                    let text = String::from_utf8_lossy(r).to_lowercase();
                    let Some(end) = text.find("\r\n\r\n") else {
                        return false;
                    };
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                    r.len() >= end + 4 + length
                };
                while !complete(&request) {
                    let n = stream.read(&mut buffer).await.unwrap();
                    assert!(n > 0, "closed mid-request");
                    request.extend_from_slice(&buffer[..n]);
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                requests.push(request);
                if requests.len() == 8 {
                    return requests;
                }
            }
        });
        let event = parsed(json!({
            "protocol": "io.choria.lifecycle.v1.upgraded",
            "id": "6b0b2a6e-1f0e-4c1a-9d2e-000000000007",
            "identity": " ünïcödé <&> ",
            "component": "server",
            "timestamp": 1_700_000_000,
            "version": "0.28.0",
            "new_version": "0.29.4",
        }));
        // A time the hand path leaves to the SDK.
        let far = parsed(json!({
            "protocol": "io.choria.lifecycle.v1.shutdown",
            "id": "1", "identity": "n", "component": "c", "timestamp": 253_402_300_800i64,
        }));
        for mode in [Mode::Binary, Mode::Structured] {
            let forwarder = Forwarder::new(&url, mode).unwrap();
            for event in [&event, &far] {
                forwarder
                    .post(&forwarder.prepare(event).unwrap())
                    .await
                    .unwrap();
                forwarder
                    .attempt(to_cloudevent(event).unwrap())
                    .await
                    .unwrap();
            }
        }
        let requests = receiver.await.unwrap();
        for (pair, what) in requests.chunks(2).zip([
            "binary",
            "binary, by the SDK",
            "structured",
            "structured, by the SDK",
        ]) {
            assert_eq!(
                String::from_utf8_lossy(&pair[0]),
                String::from_utf8_lossy(&pair[1]),
                "{what}"
            );
            assert_eq!(
                String::from_utf8_lossy(&pair[0])
                    .matches("authorization: ")
                    .count(),
                1,
                "{what}"
            );
        }
        let binary = String::from_utf8(requests[0].clone()).unwrap();
        assert!(
            binary.starts_with("POST /hook?key=s%26cret HTTP/1.1\r\n"),
            "{binary}"
        );
        // `usér:s cr:t`, as reqwest encodes it.
        assert!(
            binary.contains("authorization: Basic dXPDqXI6cyBjcjp0\r\n"),
            "{binary}"
        );
        assert!(binary.contains("ce-subject: ünïcödé <&>\r\n"), "{binary}");
    }
}
