//! What the engine hands each event to.

use std::fmt;
use std::future::Future;

use lifecycle_nats::Received;

use crate::failure::Failure;

/// Acts on events: turns each into an action once ([`Handler::prepare`]), then attempts it
/// until it succeeds, fails permanently or is out of attempts. Preparing once means every
/// attempt does the same (a CloudEvent keeps its id, a command line its arguments).
pub trait Handler: Send + Sync + 'static {
    /// What one event becomes: a request to send, a command to run. Its `Display` is what
    /// a dry run prints.
    type Action: fmt::Display + Send + Sync + 'static;

    /// Turns `event` into its action; a failure here is the event's (a template that
    /// cannot render it, an event that cannot be encoded) and is usually permanent.
    fn prepare(&self, event: &Received) -> Result<Self::Action, Failure>;

    /// One attempt, `attempt` counting from 1.
    fn attempt(
        &self,
        action: &Self::Action,
        attempt: u32,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// What acts, for logs and dead letters' `Lifecycle-Dead-Letter-Handler` header: a
    /// receiver's URL (secrets redacted), a program.
    fn describe(&self) -> String;
}
