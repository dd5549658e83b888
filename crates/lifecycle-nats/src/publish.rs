use lifecycle_core::{AnyEvent, Event, Format};

use crate::connection::Connection;
use crate::error::Error;

/// Publishes events to their subjects in one format.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: async_nats::Client,
    format: Format,
}

impl Connection {
    /// A publisher writing events in `format`.
    pub fn publisher(&self, format: Format) -> Publisher {
        Publisher {
            client: self.client.clone(),
            format,
        }
    }
}

impl Publisher {
    /// The format events are written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Publishes one lifecycle event on `choria.lifecycle.event.<type>.<component>`.
    /// An event without a component has no subject and is refused.
    pub async fn publish(&self, event: &Event) -> Result<(), Error> {
        let payload = match self.format {
            Format::Choria => event.to_json(),
            Format::CloudEvents => event.cloudevent().to_json(),
        };
        self.send(event.subject()?, payload).await
    }

    /// Publishes a lifecycle or machine event on its subject.
    pub async fn publish_any(&self, event: &AnyEvent) -> Result<(), Error> {
        self.send(event.subject()?, event.to_json_as(self.format))
            .await
    }

    /// Publishes every event, stopping at the first failure; returns how many were sent.
    pub async fn publish_all<'a>(
        &self,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<usize, Error> {
        let mut sent = 0;
        for event in events {
            self.publish(event).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Waits until everything published so far has been written to the server, so that an
    /// event published right before exit is not lost.
    pub async fn flush(&self) -> Result<(), Error> {
        self.client.flush().await.map_err(Error::flush)
    }

    async fn send(&self, subject: String, payload: Vec<u8>) -> Result<(), Error> {
        self.client
            .publish(subject, payload.into())
            .await
            .map_err(Error::publish)
    }
}
