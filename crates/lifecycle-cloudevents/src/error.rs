use std::fmt;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A CloudEvent that is not a Choria event, an event the SDK refused, or a failed delivery.
///
/// Its message says what failed; [`std::error::Error::source`] gives the cause beneath.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Source>,
}

/// The cause of an [`Error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A CloudEvent of a spec version other than 1.0.
    UnsupportedSpecVersion(String),
    /// A CloudEvent whose `source` is neither `io.choria.lifecycle` nor `io.choria.machine`.
    ForeignSource(String),
    /// A CloudEvent without `data`.
    MissingData,
    /// A CloudEvent whose `data` is not a Choria event (the source says why).
    NotAnEvent,
    /// The SDK refused to build or encode the event.
    Sdk,
    /// The receiver URL is not a valid http or https URL (the source says what is wrong; the
    /// URL is never quoted, it may hold a secret).
    InvalidUrl,
    /// A mode other than `binary` or `structured`.
    UnknownMode(String),
    /// The event cannot be made into an HTTP request in this mode (in binary mode, an
    /// attribute such as the identity in `ce-subject` holds a character no HTTP header can).
    Unencodable(crate::Mode),
    /// The receiver could not be reached, or the HTTP exchange failed.
    Http,
    /// The receiver answered with a status other than 2xx.
    Status(u16),
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
            ErrorKind::UnsupportedSpecVersion(v) => {
                write!(f, "unsupported CloudEvents specversion '{v}', expected 1.0")
            }
            ErrorKind::ForeignSource(s) => write!(
                f,
                "CloudEvent source '{s}' is not a Choria one (io.choria.lifecycle or io.choria.machine)"
            ),
            ErrorKind::MissingData => f.write_str("CloudEvent has no data, so no Choria event"),
            ErrorKind::NotAnEvent => f.write_str("CloudEvent data is not a Choria event"),
            ErrorKind::Sdk => f.write_str("the CloudEvents SDK refused the event"),
            ErrorKind::InvalidUrl => f.write_str("invalid receiver URL"),
            ErrorKind::UnknownMode(m) => {
                write!(f, "unknown mode '{m}', expected binary or structured")
            }
            ErrorKind::Unencodable(crate::Mode::Binary) => f.write_str(
                "the event cannot be made into an HTTP request in binary mode (an attribute such \
                 as the identity holds a character an HTTP header cannot; structured mode can \
                 carry it)",
            ),
            ErrorKind::Unencodable(mode) => {
                write!(
                    f,
                    "the event cannot be made into an HTTP request in {mode} mode"
                )
            }
            ErrorKind::Http => f.write_str("HTTP request to the receiver failed"),
            ErrorKind::Status(code) => write!(f, "receiver answered HTTP {code}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
