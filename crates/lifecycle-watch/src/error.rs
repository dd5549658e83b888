//! What can go wrong opening a watch.

/// A watch could not be opened.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The replay would start at a time to come.
    #[error("since {start} is a time to come: there is nothing to replay yet")]
    FutureStart {
        /// The start asked for, as a duration or an RFC 3339 time.
        start: String,
    },
    /// Subscribing or replaying failed.
    #[error(transparent)]
    Nats(#[from] lifecycle_nats::Error),
    /// A component of the subjects cannot be part of a subject.
    #[error(transparent)]
    Subject(#[from] lifecycle_core::SubjectTokenError),
}
