//! An event held by the engine, with what its source needs to hear back.

use lifecycle_nats::{Delivery, Received};
use tracing::warn;

/// An event from a durable consumer (acknowledged once settled) or a live subscription
/// (nothing to acknowledge). Boxed: many wait in queues, and moving them is then cheap.
#[derive(Debug)]
pub(crate) enum Message {
    Durable(Box<Delivery>),
    Live(Box<Received>),
    /// A durable event whose acknowledgement is confirmed when the test sends on the
    /// channel (or drops its end).
    #[cfg(test)]
    Confirmed(Box<Received>, tokio::sync::oneshot::Receiver<()>),
}

impl Message {
    pub(crate) fn received(&self) -> &Received {
        match self {
            Message::Durable(delivery) => &delivery.received,
            Message::Live(received) => received,
            #[cfg(test)]
            Message::Confirmed(received, _) => received,
        }
    }

    /// Its sequence in the stream, for a durable consumer's.
    pub(crate) fn sequence(&self) -> Option<u64> {
        match self {
            Message::Durable(delivery) => delivery.received.stream_sequence,
            Message::Live(_) => None,
            #[cfg(test)]
            Message::Confirmed(received, _) => received.stream_sequence,
        }
    }

    /// How many times the server delivered it (1 the first time, and always for a live one).
    pub(crate) fn delivered(&self) -> u32 {
        match self {
            Message::Durable(delivery) => u32::try_from(delivery.delivered).unwrap_or(u32::MAX),
            _ => 1,
        }
    }

    /// Restarts the server's acknowledgement timer, so it is not delivered again while
    /// still held here.
    pub(crate) async fn in_progress(&self) {
        if let Message::Durable(delivery) = self {
            if let Err(error) = delivery.in_progress().await {
                warn!(
                    error = %lifecycle_core::ErrorChain(&error),
                    "cannot extend the acknowledgement wait"
                );
            }
        }
    }

    /// Done with it: acknowledged, never delivered again, once the server confirmed (or
    /// it failed, and the event comes back).
    pub(crate) async fn ack(self) {
        match self {
            Message::Durable(delivery) => {
                let sequence = delivery.received.stream_sequence;
                if let Err(error) = delivery.ack().await {
                    warn!(?sequence, error = %lifecycle_core::ErrorChain(&error), "cannot acknowledge the event with JetStream; it will be delivered again");
                }
            }
            Message::Live(_) => {}
            #[cfg(test)]
            Message::Confirmed(_, confirmed) => {
                let _ = confirmed.await;
            }
        }
    }
}
