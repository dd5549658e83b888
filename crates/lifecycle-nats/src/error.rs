use std::fmt;
use std::path::PathBuf;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A failure to configure, connect, publish, subscribe or replay.
///
/// Its message ends with the cause beneath (`cannot connect to NATS at ...: IO error: ...`),
/// so [`std::error::Error::source`] is `None`: a caller printing the chain (anyhow's `{:#}`)
/// prints each cause once. [`Error::cause`] gives the cause itself.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Source>,
}

/// The cause of an [`Error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A configuration file could not be read.
    ConfigUnreadable {
        /// The file.
        path: PathBuf,
    },
    /// A configuration file names something that is wrong.
    ConfigInvalid {
        /// The file.
        path: PathBuf,
        /// The key at fault.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A NATS credentials file could not be loaded.
    Credentials {
        /// The file.
        path: PathBuf,
    },
    /// A server URL is not valid: what is wrong with it (the URL itself is never quoted,
    /// it may hold a password or token).
    InvalidServer(String),
    /// Server URLs hold different credentials, but one connection authenticates the same
    /// way with every server.
    ConflictingCredentials {
        /// The servers, credentials redacted.
        servers: Vec<String>,
    },
    /// No connection could be made to any of the servers.
    Connect {
        /// The servers tried, credentials redacted.
        servers: Vec<String>,
    },
    /// The server refused the credentials (user and password, token or credentials file),
    /// or their absence.
    Unauthorized {
        /// The servers tried, credentials redacted.
        servers: Vec<String>,
    },
    /// A component or type cannot be part of a subject.
    InvalidSubject(String),
    /// The event cannot be published (the source says why).
    Event(lifecycle_core::ErrorKind),
    /// The server refused or lost a publish, flush or subscribe.
    Nats,
    /// The server has no JetStream, so nothing can be replayed.
    JetStreamUnavailable,
    /// The stream to replay or consume from does not exist.
    StreamNotFound(String),
    /// A JetStream request failed.
    JetStream,
    /// A subscription ended: the connection was closed.
    SubscriptionEnded,
}

impl Error {
    /// An error of `kind` with nothing underneath.
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, source: None }
    }

    pub(crate) fn with_source(kind: ErrorKind, source: impl Into<Source>) -> Self {
        Error {
            kind,
            source: Some(source.into()),
        }
    }

    pub(crate) fn config(path: &std::path::Path, key: &str, problem: impl Into<String>) -> Self {
        Error::new(ErrorKind::ConfigInvalid {
            path: path.to_owned(),
            key: key.to_owned(),
            problem: problem.into(),
        })
    }

    /// A failed NATS request (publish, flush, subscribe), for code that makes its own.
    pub fn nats(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::Nats, source)
    }

    /// A failed JetStream request, for code that makes its own (key-value stores, say).
    pub fn jetstream(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::JetStream, source)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The error beneath, already part of the message.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::ConfigUnreadable { path } => {
                write!(f, "cannot read configuration file {}", path.display())
            }
            ErrorKind::ConfigInvalid { path, key, problem } => {
                write!(f, "configuration file {}: {key}: {problem}", path.display())
            }
            ErrorKind::Credentials { path } => {
                write!(f, "cannot load NATS credentials file {}", path.display())
            }
            ErrorKind::InvalidServer(reason) => write!(f, "invalid NATS server URL: {reason}"),
            ErrorKind::ConflictingCredentials { servers } => write!(
                f,
                "the NATS server URLs {} hold different credentials; one connection \
                 authenticates the same way with every server",
                servers.join(", ")
            ),
            ErrorKind::Connect { servers } => {
                write!(f, "cannot connect to NATS at {}", servers.join(", "))
            }
            ErrorKind::Unauthorized { servers } => write!(
                f,
                "cannot connect to NATS at {}: authorization failed (the server refused the \
                 user and password, token or credentials file given, or wants some)",
                servers.join(", ")
            ),
            ErrorKind::InvalidSubject(problem) => f.write_str(problem),
            ErrorKind::Event(_) => f.write_str("cannot publish event"),
            ErrorKind::Nats => f.write_str("NATS request failed"),
            ErrorKind::JetStreamUnavailable => f.write_str(
                "JetStream is not enabled on the NATS server, so past events cannot be replayed",
            ),
            ErrorKind::StreamNotFound(name) => write!(
                f,
                "the JetStream stream {name} does not exist on the NATS server: create it with \
                 `lifecycle streams create`"
            ),
            ErrorKind::JetStream => f.write_str("JetStream request failed"),
            ErrorKind::SubscriptionEnded => {
                f.write_str("the subscription ended because the NATS connection was closed")
            }
        }?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<lifecycle_core::Error> for Error {
    fn from(e: lifecycle_core::Error) -> Self {
        Error::with_source(ErrorKind::Event(e.kind().clone()), e)
    }
}

/// A component of an [`Interest`](crate::Interest) that cannot be part of a subject.
impl From<lifecycle_core::SubjectTokenError> for Error {
    fn from(e: lifecycle_core::SubjectTokenError) -> Self {
        Error::new(ErrorKind::InvalidSubject(e.to_string()))
    }
}
