//! An event held by the engine, with what its source needs to hear back.

use lifecycle_nats::{Delivery, Received};
use tracing::warn;

/// An event from a durable consumer (acknowledged once settled) or a live subscription
/// (nothing to acknowledge). Boxed: many wait in queues, and moving them is then cheap.
#[derive(Debug)]
pub(crate) enum Message {
    Durable(Box<Delivery>),
    Live(Box<Received>),
}

impl Message {
    pub(crate) fn received(&self) -> &Received {
        match self {
            Message::Durable(delivery) => &delivery.received,
            Message::Live(received) => received,
        }
    }

    /// Its sequence in the stream, for a durable consumer's.
    pub(crate) fn sequence(&self) -> Option<u64> {
        match self {
            Message::Durable(delivery) => delivery.received.stream_sequence,
            Message::Live(_) => None,
        }
    }

    /// Restarts the server's acknowledgement timer, so it is not delivered again while
    /// still held here.
    pub(crate) async fn in_progress(&self) {
        if let Message::Durable(delivery) = self {
            if let Err(error) = delivery.in_progress().await {
                warn!(%error, "cannot extend the acknowledgement wait");
            }
        }
    }

    /// Done with it: acknowledged, never delivered again.
    pub(crate) async fn ack(self) {
        if let Message::Durable(delivery) = self {
            let sequence = delivery.received.stream_sequence;
            if let Err(error) = delivery.ack().await {
                warn!(?sequence, %error, "cannot acknowledge the event with JetStream; it will be delivered again");
            }
        }
    }
}
