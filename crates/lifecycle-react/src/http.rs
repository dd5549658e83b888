//! The `http` action: the CloudEvents POST that `lifecycle forward` makes.

use std::fmt;

use lifecycle_cloudevents::{Forwarder, Mode, to_cloudevent};
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_deliver::{Failure, Handler};
use lifecycle_nats::Received;

/// POSTs each event to a CloudEvents receiver: 2xx is success, no answer, 408, 429 and 5xx
/// are transient failures, any other status (and an event that cannot be a request) a
/// permanent one.
#[derive(Debug, Clone)]
pub struct Post {
    forwarder: Forwarder,
}

impl Post {
    /// POSTs through `forwarder`.
    pub fn new(forwarder: Forwarder) -> Post {
        Post { forwarder }
    }

    /// The forwarder.
    pub fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }
}

/// One event as a CloudEvent, converted once so that every attempt carries the same id.
#[derive(Debug, Clone)]
pub struct Request {
    event: lifecycle_cloudevents::cloudevents::Event,
    receiver: String,
    mode: Mode,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use lifecycle_cloudevents::cloudevents::AttributesReader;
        write!(
            f,
            "POST {} ({} mode) id {}",
            self.receiver,
            self.mode,
            TerminalSafe(self.event.id())
        )
    }
}

impl Handler for Post {
    type Action = Request;

    fn prepare(&self, event: &Received) -> Result<Request, Failure> {
        let event = to_cloudevent(event.parsed.event()).map_err(|error| {
            Failure::permanent(lifecycle_cloudevents::Failure::Permanent(error))
        })?;
        Ok(Request {
            event,
            receiver: self.forwarder.receiver(),
            mode: self.forwarder.mode(),
        })
    }

    async fn attempt(&self, request: &Request, _attempt: u32) -> Result<(), Failure> {
        self.forwarder
            .attempt(request.event.clone())
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
        self.forwarder.receiver()
    }
}
