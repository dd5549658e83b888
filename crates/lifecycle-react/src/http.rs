//! The `http` action: the CloudEvents POST that `lifecycle forward` makes.

use std::fmt;
use std::sync::Arc;

use lifecycle_cloudevents::{Encoded, Forwarder, Mode};
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_deliver::{Failure, Handler};
use lifecycle_nats::Received;

/// POSTs each event to a CloudEvents receiver: 2xx is success, no answer, 408, 429 and 5xx
/// are transient failures, any other status (and an event that cannot be a request) a
/// permanent one.
#[derive(Debug, Clone)]
pub struct Post {
    forwarder: Forwarder,
    /// The receiver as shown (secrets redacted), worked out once for every request.
    receiver: Arc<str>,
}

impl Post {
    /// POSTs through `forwarder`.
    pub fn new(forwarder: Forwarder) -> Post {
        let receiver = forwarder.receiver().into();
        Post {
            forwarder,
            receiver,
        }
    }

    /// The forwarder.
    pub fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }
}

/// One event's CloudEvents request, built once so that every attempt sends the same bytes
/// (and the same id).
#[derive(Debug, Clone)]
pub struct Request {
    encoded: Encoded,
    receiver: Arc<str>,
    mode: Mode,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "POST {} ({} mode) id {}",
            self.receiver,
            self.mode,
            TerminalSafe(self.encoded.id())
        )
    }
}

impl Handler for Post {
    type Action = Request;

    fn prepare(&self, event: &Received) -> Result<Request, Failure> {
        let encoded = self
            .forwarder
            .prepare(event.parsed.event())
            .map_err(|error| {
                Failure::permanent(lifecycle_cloudevents::Failure::Permanent(error))
            })?;
        Ok(Request {
            encoded,
            receiver: self.receiver.clone(),
            mode: self.forwarder.mode(),
        })
    }

    async fn attempt(&self, request: &Request, _attempt: u32) -> Result<(), Failure> {
        self.forwarder
            .post(&request.encoded)
            .await
            .map_err(|failure| {
                if failure.is_transient() {
                    Failure::transient(failure)
                } else {
                    Failure::permanent(failure)
                }
            })
    }

    fn describe(&self) -> String {
        self.receiver.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A machine event's CloudEvent id is made when its request is prepared (Choria gives
    /// each send a fresh one): every attempt of the event sends that one id.
    #[tokio::test]
    async fn every_attempt_of_a_machine_event_carries_one_id() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        // Answers 503, 503, then 200, one request per connection; the `ce-id` of each.
        let receiver = tokio::spawn(async move {
            let mut ids = Vec::new();
            for status in [
                "503 Service Unavailable",
                "503 Service Unavailable",
                "200 OK",
            ] {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
                    let n = stream.read(&mut buffer).await.unwrap();
                    assert!(n > 0, "closed mid-request");
                    request.extend_from_slice(&buffer[..n]);
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                ids.push(
                    text.lines()
                        .find_map(|l| l.strip_prefix("ce-id: "))
                        .unwrap()
                        .to_owned(),
                );
                let answer =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
            ids
        });
        let payload = br#"{"protocol":"io.choria.machine.v1.transition","identity":"m1","id":"a1b2","version":"1.0.0","timestamp":1700000100,"machine":"deploy","transition":"go","from_state":"idle","to_state":"running"}"#;
        let received = Received {
            subject: "choria.machine.transition".into(),
            parsed: lifecycle_core::parse(payload).unwrap(),
            payload: payload.to_vec().into(),
            stream_sequence: None,
            pending: None,
            stored: None,
        };
        let post = Post::new(Forwarder::new(&url, Mode::Binary).unwrap());
        let request = post.prepare(&received).unwrap();
        for attempt in 1..=2 {
            let failure = post.attempt(&request, attempt).await.unwrap_err();
            assert!(failure.is_transient(), "{failure}");
        }
        post.attempt(&request, 3).await.unwrap();
        let ids = receiver.await.unwrap();
        assert_eq!(ids, [request.encoded.id(); 3]);
        // A fresh UUID v4, not the machine's own id.
        assert_eq!(ids[0].len(), 36, "{}", ids[0]);
        assert_ne!(ids[0], "a1b2");
        assert_eq!(
            request.to_string(),
            format!("POST {url} (binary mode) id {}", ids[0])
        );
    }
}
