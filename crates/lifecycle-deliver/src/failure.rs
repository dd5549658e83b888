//! Why a handler failed, and whether trying again may help.

use std::fmt;

/// One failed attempt: transient (retried with backoff) or permanent (dead-lettered at
/// once), with why in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    transient: bool,
    reason: String,
}

impl Failure {
    /// It may pass later: a receiver unreachable or busy, a program that exited non-zero.
    pub fn transient(reason: impl fmt::Display) -> Failure {
        Failure {
            transient: true,
            reason: reason.to_string(),
        }
    }

    /// It never will: the event cannot be turned into the action, or was refused for good.
    pub fn permanent(reason: impl fmt::Display) -> Failure {
        Failure {
            transient: false,
            reason: reason.to_string(),
        }
    }

    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Why, in one line.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Failure {}
