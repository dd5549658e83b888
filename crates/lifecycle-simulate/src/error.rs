//! What can be wrong with a simulated fleet.

use std::fmt;

/// A fleet that cannot be simulated, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
}

/// A fleet that cannot be simulated: the same type as [`Error`], under the name it had.
pub type SpecError = Error;

/// The cause of an [`Error`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Too few or too many nodes.
    Nodes(usize),
    /// No component to run.
    NoComponents,
    /// More components to run across the fleet (nodes × components) than the simulator keeps.
    TooManyMembers {
        /// Nodes asked for.
        nodes: usize,
        /// Components per node asked for.
        components: usize,
    },
    /// A component that cannot be part of a NATS subject: the error saying why, which is
    /// also the message.
    Component(lifecycle_core::Error),
    /// No version with a weight.
    NoVersions,
    /// More versions than the simulator tracks.
    TooManyVersions(usize),
    /// An empty version.
    EmptyVersion(String),
    /// A weight that is not a number.
    Weight(String),
    /// A rate (what, and the value given) out of range.
    Rate(&'static str, f64),
    /// An alive interval of zero or longer than [`lifecycle_core::duration::MAX`].
    AliveInterval(std::time::Duration),
}

impl Error {
    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::limits::{MAX_MEMBERS, MAX_NODES, MAX_RATE, MIN_RATE};
        match &self.kind {
            ErrorKind::Nodes(n) => {
                write!(f, "a fleet needs between 1 and {MAX_NODES} nodes, not {n}")
            }
            ErrorKind::NoComponents => f.write_str("a fleet needs at least one component"),
            ErrorKind::TooManyMembers { nodes, components } => write!(
                f,
                "{nodes} nodes running {components} components each are more than the \
                 {MAX_MEMBERS} components a simulated fleet can run"
            ),
            // The token error names the component and what is wrong with it.
            ErrorKind::Component(error) => error.fmt(f),
            ErrorKind::NoVersions => {
                f.write_str("a fleet needs at least one version with a weight above 0")
            }
            ErrorKind::TooManyVersions(n) => {
                write!(
                    f,
                    "{n} versions are more than a fleet can be shared out into"
                )
            }
            ErrorKind::EmptyVersion(share) => {
                write!(f, "invalid version share '{share}': the version is empty")
            }
            ErrorKind::Weight(share) => write!(
                f,
                "invalid version share '{share}': the weight after ':' must be a whole number"
            ),
            ErrorKind::Rate(what, rate) => write!(
                f,
                "invalid {what} {rate:?}: it must be a number a second from {MIN_RATE} to \
                 {MAX_RATE}"
            ),
            ErrorKind::AliveInterval(interval) => write!(
                f,
                "invalid alive interval {interval:?}: it must be above 0 and at most 100 years"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            // The token error is the message, so its causes come next.
            ErrorKind::Component(error) => error.source(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_what_they_say_and_keep_the_token_error() {
        let error = Error::from(ErrorKind::Nodes(0));
        assert_eq!(error.kind(), &ErrorKind::Nodes(0));
        assert!(error.to_string().ends_with(" nodes, not 0"), "{error}");

        let token = lifecycle_core::check_subject_token("component", "a.b").unwrap_err();
        let error = Error::from(ErrorKind::Component(token.clone()));
        assert_eq!(error.kind(), &ErrorKind::Component(token.clone()));
        assert_eq!(error.to_string(), token.to_string());
        assert!(std::error::Error::source(&error).is_none());
    }
}
