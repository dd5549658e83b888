//! What can go wrong loading rules or running them.

use std::fmt;
use std::path::PathBuf;

use lifecycle_core::terminal::TerminalSafe;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A rules file that cannot be used, or a rule that cannot run.
///
/// Its message says what failed; [`std::error::Error::source`] gives the cause beneath.
#[derive(Debug)]
pub struct Error {
    /// Boxed: a Consumer kind holds a NATS error kind, and results stay small.
    kind: Box<ErrorKind>,
    source: Option<Source>,
}

/// Why a rules file cannot be used: the same type as [`Error`], under the name it had.
pub type RulesError = Error;

/// Why [`run`](crate::run) stopped: the same type as [`Error`], under the name it had.
pub type RunError = Error;

/// The cause of an [`Error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The rules file cannot be read (the source says why).
    RulesUnreadable {
        /// The file.
        path: PathBuf,
    },
    /// The rules file holds mistakes: all of them, in file order.
    RulesInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, in file order.
        problems: Vec<Problem>,
    },
    /// A rule's consumer could not be opened, or failed (the source is the NATS error).
    Consumer {
        /// The rule.
        rule: String,
        /// Its consumer.
        consumer: String,
        /// The stream.
        stream: &'static str,
        /// The kind of the NATS error beneath.
        nats: lifecycle_nats::ErrorKind,
    },
    /// A rule's events stopped coming: its consumer ended.
    Ended {
        /// The rule.
        rule: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Box::new(kind),
            source: None,
        }
    }

    pub(crate) fn with_source(kind: ErrorKind, source: impl Into<Source>) -> Self {
        Error {
            kind: Box::new(kind),
            source: Some(source.into()),
        }
    }

    /// The consumer of `rule` failed with `error`.
    pub(crate) fn consumer(rule: &str, consumer: &str, error: lifecycle_nats::Error) -> Self {
        let kind = ErrorKind::Consumer {
            rule: rule.to_owned(),
            consumer: consumer.to_owned(),
            stream: lifecycle_nats::EVENTS_STREAM,
            nats: error.kind().clone(),
        };
        Error::with_source(kind, error)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            ErrorKind::RulesUnreadable { path } => {
                write!(f, "cannot read the rules file {}", path.display())
            }
            ErrorKind::RulesInvalid { path, problems } => {
                let lines: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}:{p}", path.display()))
                    .collect();
                match problems.len() {
                    1 => f.write_str(&lines.join("")),
                    n => write!(f, "{n} problems in the rules file\n{}", lines.join("\n")),
                }
            }
            ErrorKind::Consumer {
                rule,
                consumer,
                stream,
                ..
            } => write!(
                f,
                "rule {rule}: cannot consume {stream} with the durable consumer '{consumer}'"
            ),
            ErrorKind::Ended { rule } => {
                write!(
                    f,
                    "rule {rule}: the events stopped coming: the consumer ended"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn kinds_are_what_they_say_and_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let error = Error::with_source(
            ErrorKind::RulesUnreadable {
                path: "r.toml".into(),
            },
            io,
        );
        assert_eq!(
            error.kind(),
            &ErrorKind::RulesUnreadable {
                path: "r.toml".into()
            }
        );
        assert_eq!(error.to_string(), "cannot read the rules file r.toml");
        let kept = error.source().unwrap().downcast_ref::<std::io::Error>();
        assert_eq!(kept.unwrap().kind(), std::io::ErrorKind::NotFound);

        let nats = lifecycle_nats::Error::new(lifecycle_nats::ErrorKind::JetStreamUnavailable);
        let error = Error::consumer("restart", "react-restart", nats);
        assert!(matches!(
            error.kind(),
            ErrorKind::Consumer {
                nats: lifecycle_nats::ErrorKind::JetStreamUnavailable,
                ..
            }
        ));
        assert_eq!(
            lifecycle_core::ErrorChain(&error).to_string(),
            "rule restart: cannot consume CHORIA_EVENTS with the durable consumer \
             'react-restart': JetStream is not enabled on the NATS server, so past events \
             cannot be replayed"
        );
        assert!(error.source().unwrap().is::<lifecycle_nats::Error>());

        let error = Error::new(ErrorKind::Ended {
            rule: "restart".into(),
        });
        assert!(error.source().is_none());
    }
}

/// One thing wrong in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line (from 1).
    pub line: usize,
    /// The rule it is in (its name, or `#N` when it has none), if any.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.line)?;
        if let Some(rule) = &self.rule {
            write!(f, "rule {}: ", TerminalSafe(rule))?;
        }
        write!(f, "{}", TerminalSafe(&self.message))
    }
}
