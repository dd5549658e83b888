use std::fmt;
use std::path::PathBuf;

pub(crate) type Source = Box<dyn std::error::Error + Send + Sync>;

/// A failure to configure, connect, publish, subscribe or replay.
///
/// Its message says what failed; [`std::error::Error::source`] gives the cause beneath, so a
/// caller printing the chain (anyhow's `{:#}`, [`lifecycle_core::ErrorChain`]) prints each
/// cause once: `cannot connect to NATS at ...: IO error: ...`.
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
        /// What is wrong with it, when the source does not say it all.
        problem: Option<String>,
    },
    /// A NATS credentials file could not be loaded.
    Credentials {
        /// The file.
        path: PathBuf,
    },
    /// A server URL is not valid (the source says what is wrong with it; the URL itself is
    /// never quoted, it may hold a password or token).
    InvalidServer,
    /// Server URLs hold different credentials, but one connection authenticates the same
    /// way with every server.
    ConflictingCredentials {
        /// The servers, credentials redacted.
        servers: Vec<String>,
    },
    /// The Choria configuration says to find the brokers by DNS SRV records, but none of
    /// the names tried has any (the source, when there is one, says why a lookup failed).
    SrvNotFound {
        /// The configuration file that gave the domain.
        config: PathBuf,
        /// The names looked up, in order.
        tried: Vec<String>,
    },
    /// The system's DNS resolver configuration (`/etc/resolv.conf`) cannot be read.
    DnsConfig,
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
    /// A component or type cannot be part of a subject: what is wrong.
    InvalidSubject(String),
    /// A name that must be one subject token is not one (the source says why; the message
    /// is the source's).
    SubjectToken,
    /// The event cannot be published (the source says why).
    Event(lifecycle_core::ErrorKind),
    /// A publish failed.
    Publish,
    /// Flushing what was published to the server failed.
    Flush,
    /// The server refused a subscription.
    Subscribe,
    /// Another NATS request failed.
    Nats,
    /// The server has no JetStream, so nothing can be replayed.
    JetStreamUnavailable,
    /// The stream to replay or consume from does not exist.
    StreamNotFound(String),
    /// A JetStream request failed.
    JetStream,
    /// A subscription ended: the connection was closed.
    SubscriptionEnded,
    /// The server is older than a feature needs.
    ServerTooOld {
        /// The version the server announced.
        version: String,
        /// What needs the newer server (`--election`, `JetStream`).
        what: String,
        /// The oldest version that has it.
        needs: crate::ServerVersion,
    },
    /// A stream's replica count could not be changed to the one asked for (the source says
    /// why: a cluster too small, a single server).
    Replicas {
        /// The stream.
        stream: String,
        /// The replicas it has.
        have: usize,
        /// The replicas asked for.
        asked: usize,
    },
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
            problem: Some(problem.into()),
        })
    }

    pub(crate) fn config_with_source(
        path: &std::path::Path,
        key: &str,
        problem: Option<String>,
        source: impl Into<Source>,
    ) -> Self {
        let kind = ErrorKind::ConfigInvalid {
            path: path.to_owned(),
            key: key.to_owned(),
            problem,
        };
        Error::with_source(kind, source)
    }

    /// A failed NATS request, for code that makes its own.
    pub fn nats(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::Nats, source)
    }

    /// A failed publish, for code that makes its own.
    pub fn publish(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::Publish, source)
    }

    /// A failed flush, for code that makes its own.
    pub fn flush(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::Flush, source)
    }

    /// A failed subscription, for code that makes its own.
    pub fn subscribe(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::Subscribe, source)
    }

    /// A failed JetStream request, for code that makes its own (key-value stores, say).
    pub fn jetstream(source: impl Into<Source>) -> Self {
        Error::with_source(ErrorKind::JetStream, source)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The error beneath, as [`std::error::Error::source`] gives it, but `Send + Sync`.
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
                write!(f, "configuration file {}: {key}", path.display())?;
                match problem {
                    Some(problem) => write!(f, ": {problem}"),
                    None => Ok(()),
                }
            }
            ErrorKind::Credentials { path } => {
                write!(f, "cannot load NATS credentials file {}", path.display())
            }
            ErrorKind::InvalidServer => f.write_str("invalid NATS server URL"),
            ErrorKind::ConflictingCredentials { servers } => write!(
                f,
                "the NATS server URLs {} hold different credentials; one connection \
                 authenticates the same way with every server",
                servers.join(", ")
            ),
            ErrorKind::SrvNotFound { config, tried } => write!(
                f,
                "no NATS server found: no DNS SRV records for {} (configuration file {} sets \
                 no plugin.choria.middleware_hosts)",
                tried.join(" or "),
                config.display()
            ),
            ErrorKind::DnsConfig => {
                f.write_str("cannot read the system's DNS resolver configuration")
            }
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
            // The token error says it all, with the name and the value.
            ErrorKind::SubjectToken => match &self.source {
                Some(source) => source.fmt(f),
                None => f.write_str("invalid subject token"),
            },
            ErrorKind::Event(_) => f.write_str("cannot publish event"),
            ErrorKind::Publish => f.write_str("cannot publish to NATS"),
            ErrorKind::Flush => f.write_str("cannot flush to NATS"),
            ErrorKind::Subscribe => f.write_str("cannot subscribe to NATS"),
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
            ErrorKind::ServerTooOld {
                version,
                what,
                needs,
            } => write!(
                f,
                "nats-server {version} is too old for {what}: needs {needs} or later"
            ),
            ErrorKind::Replicas {
                stream,
                have,
                asked,
            } => write!(
                f,
                "cannot change stream {stream} from {have} to {asked} replicas"
            ),
            ErrorKind::SubscriptionEnded => {
                f.write_str("the subscription ended because the NATS connection was closed")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind {
            // The message is the source's, so its causes come next.
            ErrorKind::SubjectToken => self.source.as_deref().and_then(|e| e.source()),
            _ => self.source.as_deref().map(|e| e as _),
        }
    }
}

/// An event that cannot be published, or a name (a component of an
/// [`Interest`](crate::Interest), a consumer's) that cannot be part of a subject.
impl From<lifecycle_core::Error> for Error {
    fn from(e: lifecycle_core::Error) -> Self {
        match e.kind() {
            lifecycle_core::ErrorKind::SubjectToken { .. } => {
                Error::with_source(ErrorKind::SubjectToken, e)
            }
            kind => Error::with_source(ErrorKind::Event(kind.clone()), e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// The message and every cause, as a caller printing the chain sees them.
    fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut lines = vec![error.to_string()];
        let mut source = error.source();
        while let Some(cause) = source {
            lines.push(cause.to_string());
            source = cause.source();
        }
        lines
    }

    #[test]
    fn each_kind_says_what_failed_and_keeps_its_source() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for (error, kind, message) in [
            (
                Error::publish(refused()),
                ErrorKind::Publish,
                "cannot publish to NATS",
            ),
            (
                Error::flush(refused()),
                ErrorKind::Flush,
                "cannot flush to NATS",
            ),
            (
                Error::subscribe(refused()),
                ErrorKind::Subscribe,
                "cannot subscribe to NATS",
            ),
            (
                Error::nats(refused()),
                ErrorKind::Nats,
                "NATS request failed",
            ),
            (
                Error::jetstream(refused()),
                ErrorKind::JetStream,
                "JetStream request failed",
            ),
            (
                Error::with_source(
                    ErrorKind::Connect {
                        servers: vec!["nats://***@a:4222".into()],
                    },
                    refused(),
                ),
                ErrorKind::Connect {
                    servers: vec!["nats://***@a:4222".into()],
                },
                "cannot connect to NATS at nats://***@a:4222",
            ),
        ] {
            assert_eq!(error.kind(), &kind);
            assert_eq!(chain(&error), [message, "refused"]);
            let io = error.source().unwrap().downcast_ref::<std::io::Error>();
            assert_eq!(io.unwrap().kind(), std::io::ErrorKind::ConnectionRefused);
            assert!(error.cause().is_some());
        }
    }

    #[test]
    fn a_subject_token_error_is_the_message_and_kept() {
        let token = lifecycle_core::check_subject_token("component", "a.b").unwrap_err();
        let error = Error::from(token.clone());
        assert_eq!(error.kind(), &ErrorKind::SubjectToken);
        assert_eq!(chain(&error), [token.to_string()]);
        let kept = error
            .cause()
            .unwrap()
            .downcast_ref::<lifecycle_core::Error>();
        assert_eq!(kept, Some(&token));
    }

    #[test]
    fn an_event_error_keeps_the_core_error() {
        let core = lifecycle_core::parse(b"[]").unwrap_err();
        let error = Error::from(core);
        assert!(matches!(error.kind(), ErrorKind::Event(_)));
        assert_eq!(error.to_string(), "cannot publish event");
        assert!(error.source().unwrap().is::<lifecycle_core::Error>());
    }
}
