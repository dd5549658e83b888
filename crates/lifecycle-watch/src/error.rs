//! What can go wrong opening a watch or asking a tally.

use std::fmt;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A watch could not be opened, or a tally could not be asked.
///
/// Its message says what failed; [`std::error::Error::source`] gives the cause beneath.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Source>,
}

/// Talking to the tally failed: the same type as [`Error`], under the name it had.
pub type TallyError = Error;

/// The cause of an [`Error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The replay would start at a time to come.
    FutureStart {
        /// The start asked for, as a duration or an RFC 3339 time.
        start: String,
    },
    /// Subscribing or replaying failed: the NATS error's kind (the source is that error).
    Nats(lifecycle_nats::ErrorKind),
    /// A component of the subjects cannot be part of a subject (the source says which).
    InvalidSubject,
    /// The tally URL is no HTTP URL (it is not quoted: it may hold a secret; the source says
    /// what is wrong with it).
    InvalidTallyUrl,
    /// No answer from the tally: connection refused, timeout, TLS (the source says why).
    TallyUnreachable {
        /// The URL asked, credentials redacted.
        url: String,
    },
    /// A 400: the tally refused the query (a bad filter), saying why.
    TallyRefused {
        /// The URL asked, credentials redacted.
        url: String,
        /// The tally's message.
        message: String,
    },
    /// A 503: the tally is still replaying.
    TallyNotReady {
        /// The URL asked, credentials redacted.
        url: String,
        /// The tally's message.
        message: String,
    },
    /// The tally answered another status.
    TallyStatus {
        /// The URL asked, credentials redacted.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body.
        message: String,
    },
    /// An answer longer than [`MAX_PAGE_BYTES`](crate::MAX_PAGE_BYTES).
    TallyTooLarge {
        /// The URL asked, credentials redacted.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// An answer that is not a page of nodes (the source says what is wrong with it).
    TallyMalformed {
        /// The URL asked, credentials redacted.
        url: String,
    },
    /// The tally lists more nodes than the limit.
    TallyTooManyNodes {
        /// The URL asked, credentials redacted.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A template could not be rendered for an event (the source says why).
    Render,
    /// Writing what was shown failed, other than its reader going away (the source says why).
    Write,
    /// The deadline passed, or the stop signal came, while JetStream could not start the
    /// replay (a stream electing its leader, say; the source is its last answer).
    Stopped {
        /// Which.
        stop: crate::Stop,
        /// What it waited for.
        waiting_for: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error { kind, source: None }
    }

    pub(crate) fn with_source(kind: ErrorKind, source: impl Into<Source>) -> Self {
        Error {
            kind,
            source: Some(source.into()),
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
            ErrorKind::FutureStart { start } => write!(
                f,
                "since {start} is a time to come: there is nothing to replay yet"
            ),
            // The NATS error says it all; it stands in for this one (see `source`).
            ErrorKind::Nats(_) | ErrorKind::InvalidSubject => match &self.source {
                Some(source) => source.fmt(f),
                None => f.write_str("cannot subscribe"),
            },
            ErrorKind::InvalidTallyUrl => f.write_str("invalid tally URL"),
            ErrorKind::TallyUnreachable { url } => write!(f, "cannot reach the tally at {url}"),
            ErrorKind::TallyRefused { url, message } => {
                write!(f, "the tally at {url} refused the query: {message}")
            }
            ErrorKind::TallyNotReady { url, message } => {
                write!(f, "the tally at {url} is not ready: {message}")
            }
            ErrorKind::TallyStatus {
                url,
                status,
                message,
            } => write!(f, "the tally at {url} answered HTTP {status}: {message}"),
            ErrorKind::TallyTooLarge { url, limit } => {
                write!(f, "the tally at {url} answered more than {limit} bytes")
            }
            ErrorKind::TallyMalformed { url } => write!(
                f,
                "the tally at {url} answered something that is not a page of nodes"
            ),
            ErrorKind::TallyTooManyNodes { url, limit } => {
                write!(f, "the tally at {url} lists more than {limit} nodes")
            }
            ErrorKind::Render => f.write_str("rendering the template"),
            ErrorKind::Write => f.write_str("writing the events"),
            ErrorKind::Stopped { stop, waiting_for } => {
                let why = match stop {
                    crate::Stop::Timeout => "the timeout passed",
                    crate::Stop::Interrupted => "asked to stop",
                    crate::Stop::Closed => "the connection closed",
                };
                write!(f, "{why} while waiting for {waiting_for}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind {
            // Transparent: the message is the NATS error's, so its causes come next.
            ErrorKind::Nats(_) | ErrorKind::InvalidSubject => {
                self.source.as_deref().and_then(|e| e.source())
            }
            _ => self.source.as_deref().map(|e| e as _),
        }
    }
}

impl From<lifecycle_nats::Error> for Error {
    fn from(e: lifecycle_nats::Error) -> Self {
        Error::with_source(ErrorKind::Nats(e.kind().clone()), e)
    }
}

impl From<lifecycle_core::Error> for Error {
    fn from(e: lifecycle_core::Error) -> Self {
        Error::with_source(ErrorKind::InvalidSubject, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// The message and every cause, as the CLI prints them.
    fn chain(error: &Error) -> Vec<String> {
        let mut lines = vec![error.to_string()];
        let mut source = error.source();
        while let Some(cause) = source {
            lines.push(cause.to_string());
            source = cause.source();
        }
        lines
    }

    #[test]
    fn kinds_are_what_they_say_and_keep_their_source() {
        let error = Error::with_source(
            ErrorKind::TallyUnreachable {
                url: "http://***@t/api/v1/nodes".into(),
            },
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
        );
        assert!(matches!(error.kind(), ErrorKind::TallyUnreachable { .. }));
        assert_eq!(
            chain(&error),
            [
                "cannot reach the tally at http://***@t/api/v1/nodes",
                "refused"
            ]
        );
        let io = error.source().unwrap().downcast_ref::<std::io::Error>();
        assert_eq!(io.unwrap().kind(), std::io::ErrorKind::ConnectionRefused);

        let error = Error::new(ErrorKind::FutureStart {
            start: "2300".into(),
        });
        assert_eq!(
            chain(&error),
            ["since 2300 is a time to come: there is nothing to replay yet"]
        );
    }

    #[test]
    fn nats_errors_stand_in_for_the_watch_error() {
        let nats = lifecycle_nats::Error::nats(std::io::Error::other("broken pipe"));
        let error = Error::from(nats);
        assert_eq!(
            error.kind(),
            &ErrorKind::Nats(lifecycle_nats::ErrorKind::Nats)
        );
        assert_eq!(chain(&error).join(": "), "NATS request failed: broken pipe");
    }
}
