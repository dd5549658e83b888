//! HTTP encodings of a CloudEvent, through the SDK's reqwest binding.

use std::fmt;
use std::str::FromStr;

use cloudevents::binding::reqwest::RequestSerializer;
use cloudevents::message::{BinaryDeserializer, StructuredDeserializer};

use crate::error::{Error, ErrorKind};

/// The CloudEvents HTTP content mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Attributes in `ce-*` headers, `data` as the body with its own `Content-Type`.
    #[default]
    Binary,
    /// The whole event as one `application/cloudevents+json` body.
    Structured,
}

impl Mode {
    /// `binary` or `structured`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Binary => "binary",
            Mode::Structured => "structured",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "binary" => Ok(Mode::Binary),
            "structured" => Ok(Mode::Structured),
            _ => Err(Error::new(ErrorKind::UnknownMode(s.to_owned()))),
        }
    }
}

/// Fills `request` with `event` in `mode`, using the SDK's own serialisers.
pub fn encode(
    event: cloudevents::Event,
    mode: Mode,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::RequestBuilder, Error> {
    let serializer = RequestSerializer::new(request);
    match mode {
        Mode::Binary => BinaryDeserializer::deserialize_binary(event, serializer),
        Mode::Structured => StructuredDeserializer::deserialize_structured(event, serializer),
    }
    .map_err(|e| Error::with_source(ErrorKind::Sdk, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_cloudevent;
    use lifecycle_core::{Event, EventType};

    fn request(mode: Mode) -> reqwest::Request {
        let event: lifecycle_core::AnyEvent = Event::builder(EventType::Startup)
            .identity("node1.example.net")
            .component("server")
            .version("0.29.4")
            .timestamp(1_700_000_000)
            .id("6b0b2a6e-1f0e-4c1a-9d2e-000000000007")
            .build()
            .unwrap()
            .into();
        let client = reqwest::Client::new();
        encode(
            to_cloudevent(&event).unwrap(),
            mode,
            client.post("http://127.0.0.1:9/"),
        )
        .unwrap()
        .build()
        .unwrap()
    }

    fn header<'a>(request: &'a reqwest::Request, name: &str) -> &'a str {
        request.headers()[name].to_str().unwrap()
    }

    #[test]
    fn binary_mode_puts_attributes_in_headers() {
        let r = request(Mode::Binary);
        assert_eq!(header(&r, "ce-specversion"), "1.0");
        assert_eq!(header(&r, "ce-id"), "6b0b2a6e-1f0e-4c1a-9d2e-000000000007");
        assert_eq!(header(&r, "ce-source"), "io.choria.lifecycle");
        assert_eq!(header(&r, "ce-type"), "io.choria.lifecycle.v1.startup");
        assert_eq!(header(&r, "ce-subject"), "node1.example.net");
        assert_eq!(header(&r, "ce-time"), "2023-11-14T22:13:20+00:00");
        assert_eq!(header(&r, "content-type"), "application/json");
        let body: serde_json::Value =
            serde_json::from_slice(r.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body["identity"], "node1.example.net");
        assert_eq!(body["protocol"], "io.choria.lifecycle.v1.startup");
    }

    #[test]
    fn structured_mode_is_one_json_body() {
        let r = request(Mode::Structured);
        assert_eq!(header(&r, "content-type"), "application/cloudevents+json");
        assert!(r.headers().get("ce-id").is_none());
        let body: serde_json::Value =
            serde_json::from_slice(r.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["id"], "6b0b2a6e-1f0e-4c1a-9d2e-000000000007");
        assert_eq!(body["subject"], "node1.example.net");
        assert_eq!(body["data"]["version"], "0.29.4");
    }

    #[test]
    fn modes_parse() {
        assert_eq!("binary".parse::<Mode>().unwrap(), Mode::Binary);
        assert_eq!("structured".parse::<Mode>().unwrap(), Mode::Structured);
        assert_eq!(
            "batch".parse::<Mode>().unwrap_err().to_string(),
            "unknown mode 'batch', expected binary or structured"
        );
    }
}
