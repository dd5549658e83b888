//! What can go wrong running the demo or a simulation counted in process.

use std::fmt;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// The demo or a simulation counted in process failed.
///
/// Its message says what failed; [`std::error::Error::source`] gives the cause beneath.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Source,
}

/// The cause of an [`Error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A fleet's description is not valid, or a simulation failed (the source says why).
    Simulate,
    /// Connecting to the broker, setting up its stream or counting from it failed.
    Nats,
    /// The tally failed (the source says why).
    Tally,
    /// The dashboard could not listen on this address.
    Listen {
        /// The address, as asked.
        addr: String,
    },
    /// Serving the dashboard failed, or a task of the demo panicked.
    Task,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, source: impl Into<Source>) -> Self {
        Error {
            kind,
            source: source.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Listen { addr } => write!(f, "cannot listen on {addr}"),
            // The source says it all; it stands in for this one (see `source`).
            _ => self.source.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind {
            ErrorKind::Listen { .. } => Some(&*self.source),
            // Transparent: the message is the source's, so its causes come next.
            _ => self.source.source(),
        }
    }
}

impl From<lifecycle_simulate::Error> for Error {
    fn from(e: lifecycle_simulate::Error) -> Self {
        Error::new(ErrorKind::Simulate, e)
    }
}

impl From<lifecycle_nats::Error> for Error {
    fn from(e: lifecycle_nats::Error) -> Self {
        Error::new(ErrorKind::Nats, e)
    }
}

impl From<lifecycle_tally::Error> for Error {
    fn from(e: lifecycle_tally::Error) -> Self {
        Error::new(ErrorKind::Tally, e)
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::new(ErrorKind::Task, e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Task, e)
    }
}
