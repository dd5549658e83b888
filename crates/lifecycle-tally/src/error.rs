//! The tally's one error: the broker failed (the transport's error kept), the HTTP side
//! could not listen or serve, a snapshot was not used, or a live feed's listener fell
//! behind or lost its tally.

use std::fmt;
use std::net::SocketAddr;

use crate::refusal::Refusal;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why the tally stopped, a snapshot was not used, or a feed gave no event.
#[derive(Debug)]
pub struct Error {
    /// Boxed, as the source: results of the snapshot reader's hot loop stay small.
    kind: Box<ErrorKind>,
    source: Option<Source>,
}

/// The cause of an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Connecting, subscribing, replaying, electing or storing failed: the transport's
    /// error ([`lifecycle_nats::Error`]) is shown as it is.
    Broker,
    /// The HTTP side could not listen on this address (the I/O error is the source).
    Listen(SocketAddr),
    /// Serving HTTP failed: the I/O error is shown as it is.
    Serve,
    /// A snapshot was not used: why.
    Snapshot(SnapshotProblem),
    /// A live feed's listener fell behind by more than its budget and missed this many
    /// events; receiving goes on with the next.
    FeedLagged(u64),
    /// Every clone of the tally is gone: no event will come to the feed.
    FeedClosed,
}

/// What was wrong with a snapshot, in [`ErrorKind::Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotProblem {
    /// Its bytes are not a snapshot, or not a whole one: what was wrong.
    Corrupt(String),
    /// Written in another format.
    Format {
        /// Its format.
        found: u32,
        /// The format this tally reads ([`SNAPSHOT_FORMAT`](crate::SNAPSHOT_FORMAT)).
        expected: u32,
    },
    /// Written by a tally counting other components (`--component`).
    OtherComponents {
        /// The components it counted (none: all).
        found: Vec<String>,
    },
    /// It would not fit the tally's caps (components, versions).
    OverCaps {
        /// What did not fit: `component "x"`, `version "1.0"`.
        what: String,
        /// Why the tally refused it.
        refusal: Refusal,
    },
    /// Larger than the tally accepts.
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The most accepted.
        max: u64,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            kind: Box::new(kind),
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl Error {
    pub(crate) fn with_source(kind: ErrorKind, source: impl Into<Source>) -> Error {
        Error {
            kind: Box::new(kind),
            source: Some(source.into()),
        }
    }
}

impl From<lifecycle_nats::Error> for Error {
    fn from(error: lifecycle_nats::Error) -> Error {
        Error::with_source(ErrorKind::Broker, error)
    }
}

impl From<SnapshotProblem> for Error {
    fn from(problem: SnapshotProblem) -> Error {
        Error::new(ErrorKind::Snapshot(problem))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            // The transport, or the I/O error, says what failed; saying more would print it
            // twice.
            ErrorKind::Broker | ErrorKind::Serve => match &self.source {
                Some(source) => source.fmt(f),
                None => f.write_str("the broker failed"),
            },
            ErrorKind::Listen(address) => write!(f, "cannot listen on {address}"),
            ErrorKind::Snapshot(problem) => problem.fmt(f),
            ErrorKind::FeedLagged(n) => {
                write!(f, "fell behind the live feed and missed {n} events")
            }
            ErrorKind::FeedClosed => f.write_str("the live feed ended"),
        }
    }
}

impl std::error::Error for Error {
    /// For the broker and serving, the cause's own causes: its message is this one's.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.source.as_deref()?;
        match *self.kind {
            ErrorKind::Broker | ErrorKind::Serve => source.source(),
            _ => Some(source),
        }
    }
}

impl fmt::Display for SnapshotProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotProblem::Corrupt(why) => write!(f, "the snapshot is corrupt: {why}"),
            SnapshotProblem::Format { found, expected } => write!(
                f,
                "the snapshot is in format {found}, this tally reads format {expected}"
            ),
            SnapshotProblem::OtherComponents { found } => {
                let found = if found.is_empty() {
                    "every component".to_owned()
                } else {
                    found.join(",")
                };
                write!(
                    f,
                    "the snapshot was written by a tally counting {found}, not this one's \
                     components (give each kind of tally its own --snapshot name)"
                )
            }
            SnapshotProblem::OverCaps { what, refusal } => write!(
                f,
                "the snapshot does not fit this tally's caps: {what}: {refusal}"
            ),
            SnapshotProblem::TooLarge { size, max } => write!(
                f,
                "the snapshot is {size} bytes, more than the {max} this tally accepts"
            ),
        }
    }
}
