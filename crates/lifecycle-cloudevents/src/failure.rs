//! Whether a failed delivery may succeed later: the one place that tells them apart.

use std::fmt;

use lifecycle_core::ErrorChain as Chain;

use crate::error::{Error, ErrorKind};

/// Why one delivery attempt failed, and whether trying again may help.
#[derive(Debug)]
pub enum Failure {
    /// It may pass: the receiver was unreachable or timed out, or answered 408, 429 or 5xx.
    Transient(Error),
    /// It never will: the event cannot be made into a request, or the receiver answered
    /// another status that is not 2xx (4xx but 408 and 429: it refused this event).
    Permanent(Error),
}

impl Failure {
    /// Sorts `error` into transient or permanent.
    pub fn classify(error: Error) -> Failure {
        let transient = match error.kind() {
            ErrorKind::Http => true,
            ErrorKind::Status(code) => matches!(code, 408 | 429 | 500..=599),
            _ => false,
        };
        if transient {
            Failure::Transient(error)
        } else {
            Failure::Permanent(error)
        }
    }

    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::Transient(_))
    }

    /// The error.
    pub fn error(&self) -> &Error {
        match self {
            Failure::Transient(error) | Failure::Permanent(error) => error,
        }
    }

    /// The error, owned.
    pub fn into_error(self) -> Error {
        match self {
            Failure::Transient(error) | Failure::Permanent(error) => error,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::classify(error)
    }
}

/// The error followed by its causes, `: `-separated: one line for a log or a header.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Chain(self.error()).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    #[test]
    fn what_is_transient() {
        let cases = [
            (ErrorKind::Http, true),
            (ErrorKind::Status(500), true),
            (ErrorKind::Status(503), true),
            (ErrorKind::Status(599), true),
            (ErrorKind::Status(429), true),
            (ErrorKind::Status(408), true),
            (ErrorKind::Status(400), false),
            (ErrorKind::Status(404), false),
            (ErrorKind::Status(413), false),
            (ErrorKind::Status(304), false),
            (ErrorKind::Status(600), false),
            (ErrorKind::Unencodable(Mode::Binary), false),
            (ErrorKind::NotAnEvent, false),
            (ErrorKind::Sdk, false),
        ];
        for (kind, transient) in cases {
            let failure = Failure::classify(Error::new(kind.clone()));
            assert_eq!(failure.is_transient(), transient, "{kind:?}");
            assert_eq!(failure.error().kind(), &kind);
        }
    }

    #[test]
    fn displays_the_whole_chain() {
        let failure = Failure::from(Error::with_source(ErrorKind::Http, "connection refused"));
        assert_eq!(
            failure.to_string(),
            "HTTP request to the receiver failed: connection refused"
        );
    }
}
