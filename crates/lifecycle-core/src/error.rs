use std::fmt;

use crate::terminal::TerminalSafe;

/// Why an event could not be parsed, built or addressed, or a filter, a duration or a
/// subject token given for one was refused: the crate's one error.
///
/// The message names the field and the offending value; [`Error::kind`] gives the same
/// information as data, so callers can count rejections by cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    /// Where and how the JSON is broken, for [`ErrorKind::InvalidJson`].
    detail: Option<Box<str>>,
}

/// The cause of an [`Error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes are not valid JSON (the message says what and where).
    InvalidJson,
    /// Valid JSON, but not an object: the value found instead.
    NotAnObject(&'static str),
    /// The input is larger than [`crate::MAX_EVENT_BYTES`].
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
    },
    /// A JSON object that is neither a Choria event nor a CloudEvent.
    UnknownFormat,
    /// A `protocol` this crate does not know.
    UnknownProtocol(String),
    /// A field holds a JSON value of the wrong type.
    WrongType {
        /// The field, with `data.` in front when inside a CloudEvent.
        field: String,
        /// What the field must hold.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A field the event requires is absent or empty.
    MissingField(String),
    /// A field holds a value outside what it allows.
    InvalidValue {
        /// The field.
        field: String,
        /// The value found.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// A CloudEvent whose `specversion` is not "1.0".
    UnsupportedSpecVersion(String),
    /// A CloudEvent whose `source` is not a Choria one.
    ForeignSource(String),
    /// A CloudEvent whose `datacontenttype` is not JSON, so that its `data` must be a string
    /// holding the event, and is not.
    DataNotText {
        /// The content type received.
        content_type: String,
        /// The JSON type found in `data`.
        found: &'static str,
    },
    /// A CloudEvent extension attribute whose name is not lower-case ASCII letters and digits.
    InvalidAttributeName(String),
    /// A CloudEvent whose `data_base64` is not valid base64.
    InvalidBase64,
    /// The event has no NATS subject because its component is empty.
    NoSubject,
    /// A filter expression that does not parse.
    Filter {
        /// What is wrong.
        problem: crate::filter::FilterProblem,
        /// Where, counting bytes of the expression from 1.
        position: usize,
    },
    /// A text that is not a duration (or, for [`Since`](crate::duration::Since), not a time
    /// either).
    Duration {
        /// The text refused.
        text: String,
        /// What is wrong with it.
        problem: crate::duration::DurationProblem,
        /// Whether a time would have done too (`--since`).
        since: bool,
    },
    /// A value that cannot be one token of a NATS subject.
    SubjectToken {
        /// The field the value was given for, e.g. `component`.
        field: String,
        /// The value refused.
        value: String,
        /// What is wrong with it.
        problem: crate::subject::TokenProblem,
    },
}

/// What `--since` accepts besides a duration.
const SINCE_HINT: &str = "(or give an RFC 3339 time, e.g. 2026-11-30T10:00:00Z)";

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error { kind, detail: None }
    }

    pub(crate) fn invalid_json(detail: String) -> Self {
        Error {
            kind: ErrorKind::InvalidJson,
            detail: Some(detail.into()),
        }
    }

    pub(crate) fn wrong_type(field: &str, expected: &'static str, found: &'static str) -> Self {
        Error::new(ErrorKind::WrongType {
            field: field.to_owned(),
            expected,
            found,
        })
    }

    pub(crate) fn missing(field: &str) -> Self {
        Error::new(ErrorKind::MissingField(field.to_owned()))
    }

    pub(crate) fn invalid(field: &str, value: &str, reason: &'static str) -> Self {
        Error::new(ErrorKind::InvalidValue {
            field: field.to_owned(),
            value: value.to_owned(),
            reason,
        })
    }

    /// Prefixes the field of a field error, so errors inside a CloudEvent's `data` say so.
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        match &mut self.kind {
            ErrorKind::WrongType { field, .. }
            | ErrorKind::MissingField(field)
            | ErrorKind::InvalidValue { field, .. } => field.insert_str(0, prefix),
            _ => {}
        }
        self
    }

    pub(crate) fn filter(problem: crate::filter::FilterProblem, offset: usize) -> Self {
        Error::new(ErrorKind::Filter {
            problem,
            position: offset + 1,
        })
    }

    pub(crate) fn duration(text: &str, problem: crate::duration::DurationProblem) -> Self {
        Error::new(ErrorKind::Duration {
            text: text.to_owned(),
            problem,
            since: false,
        })
    }

    /// A duration error for `--since`, which takes a time too: it says so.
    pub(crate) fn for_since(mut self) -> Self {
        if let ErrorKind::Duration { since, .. } = &mut self.kind {
            *since = true;
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// For a filter, where it went wrong, counting bytes of the expression from 1.
    pub fn position(&self) -> Option<usize> {
        match self.kind {
            ErrorKind::Filter { position, .. } => Some(position),
            _ => None,
        }
    }

    /// The message without the value refused, for callers that show the value already
    /// (clap's "invalid value '…' for '--since': …"); the whole message for other kinds.
    pub fn reason(&self) -> String {
        match &self.kind {
            ErrorKind::Duration {
                problem,
                since: true,
                ..
            } => format!("{problem} {SINCE_HINT}"),
            ErrorKind::Duration { problem, .. } => problem.to_string(),
            ErrorKind::SubjectToken { problem, .. } => problem.to_string(),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::InvalidJson => match &self.detail {
                Some(detail) => write!(f, "not valid JSON: {detail}"),
                None => f.write_str("not valid JSON"),
            },
            ErrorKind::NotAnObject(found) => {
                write!(f, "expected a JSON object holding an event, found {found}")
            }
            ErrorKind::TooLarge { size } => write!(
                f,
                "event of {size} bytes is larger than the limit of {} bytes",
                crate::MAX_EVENT_BYTES
            ),
            ErrorKind::UnknownFormat => f.write_str(
                "not a Choria event: expected a 'protocol' key (Choria format) or \
                 'specversion' \"1.0\" with a Choria 'source' (CloudEvents format)",
            ),
            ErrorKind::UnknownProtocol(p) => write!(f, "unknown protocol '{p}'"),
            ErrorKind::WrongType {
                field,
                expected,
                found,
            } => write!(f, "field '{field}' must be {expected}, found {found}"),
            ErrorKind::MissingField(field) => write!(f, "missing required field '{field}'"),
            ErrorKind::InvalidValue {
                field,
                value,
                reason,
            } => write!(f, "invalid {field} '{value}': {reason}"),
            ErrorKind::UnsupportedSpecVersion(v) => {
                write!(
                    f,
                    "unsupported CloudEvents specversion '{v}', expected \"1.0\""
                )
            }
            ErrorKind::ForeignSource(s) => write!(
                f,
                "CloudEvent from another source '{s}', expected 'io.choria.lifecycle' or 'io.choria.machine'"
            ),
            ErrorKind::DataNotText {
                content_type,
                found,
            } => write!(
                f,
                "CloudEvent datacontenttype '{content_type}' is not JSON, so 'data' must be a \
                 string holding the event, found {found}"
            ),
            ErrorKind::InvalidAttributeName(name) => write!(
                f,
                "invalid CloudEvent attribute name '{name}': names are lower-case ASCII letters \
                 and digits"
            ),
            ErrorKind::InvalidBase64 => f.write_str("CloudEvent data_base64 is not valid base64"),
            ErrorKind::NoSubject => f.write_str(
                "event has no component, so it has no NATS subject and cannot be published",
            ),
            ErrorKind::Filter { problem, position } => {
                write!(f, "{problem} at position {position}")
            }
            // The text is quoted with control characters escaped.
            ErrorKind::Duration {
                text,
                problem,
                since,
            } => {
                let what = match problem {
                    crate::duration::DurationProblem::NotATime => "time",
                    _ => "duration",
                };
                write!(f, "invalid {what} '{}': {problem}", TerminalSafe(text))?;
                if *since {
                    write!(f, " {SINCE_HINT}")?;
                }
                Ok(())
            }
            // The value is quoted with control characters escaped: what is refused is often
            // exactly what must not reach a terminal raw.
            ErrorKind::SubjectToken {
                field,
                value,
                problem,
            } => write!(f, "invalid {field} '{}': {problem}", TerminalSafe(value)),
        }
    }
}

impl std::error::Error for Error {}

/// An error followed by each of its sources, `: `-separated, for one log line: what anyhow's
/// `{:#}` prints, for code that logs an error instead of returning it.
///
/// ```
/// use lifecycle_core::ErrorChain;
///
/// let error = std::io::Error::other("disk full");
/// assert_eq!(ErrorChain(&error).to_string(), "disk full");
/// ```
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
