//! What may be one token of a NATS subject: the rule every component name, durable
//! consumer name and simulated component passes before it becomes part of a subject.
//!
//! A token is the text between two dots of a subject, such as `server` in
//! `choria.lifecycle.event.alive.server`. nats-server takes any UTF-8 in a token except the
//! separator `.`, the wildcards `*` and `>` and ASCII white space (space, tab, CR, LF, FF);
//! where it checks more closely (JetStream subjects) it also refuses NUL and U+FFFD, the mark
//! of text that was not valid UTF-8. async-nats refuses a publish subject holding a space,
//! tab, CR or LF. This rule is a little stricter than the server, so that a token can be
//! typed on a command line and shown on a terminal as it is:
//! - it is not empty;
//! - it holds no `.`, `*` or `>`;
//! - no white space, Unicode's included (`\u{a0}`, `\u{2028}`, `\u{3000}`);
//! - no control character (C0, DEL, C1), and no U+FFFD.
//!
//! Other non-ASCII text is a valid token, as it is for nats-server: a component may be
//! called `сервер`.
//!
//! The subjects events travel on are read here too: [`LifecycleSubject::parse`] splits
//! `choria.lifecycle.event.<type>.<component>`, so that no consumer splits them by hand.
//!
//! ```
//! use lifecycle_core::{check_subject_token, is_subject_token};
//!
//! assert!(is_subject_token("server"));
//! assert!(!is_subject_token("my server"));
//! let err = check_subject_token("component", "a\tb").unwrap_err();
//! assert_eq!(err.to_string(), r"invalid component 'a\tb': a NATS subject token cannot hold white space ('\t')");
//! ```

use std::fmt;

use crate::error::{Error, ErrorKind};
use crate::terminal::TerminalSafe;

/// Whether `text` may be one token of a NATS subject (see the [module](self) for the rule).
pub fn is_subject_token(text: &str) -> bool {
    problem(text).is_none()
}

/// Checks that `text`, the value of `field` (`component`, `durable consumer name`), may be
/// one token of a NATS subject; the error names the field, the value and what is wrong.
pub fn check_subject_token(field: &str, text: &str) -> Result<(), Error> {
    match problem(text) {
        None => Ok(()),
        Some(problem) => Err(Error::new(ErrorKind::SubjectToken {
            field: field.to_owned(),
            value: text.to_owned(),
            problem,
        })),
    }
}

/// Where Choria publishes lifecycle events: `choria.lifecycle.event.<type>.<component>`.
pub const LIFECYCLE_EVENT_PREFIX: &str = "choria.lifecycle.event.";

/// Where Choria publishes autonomous agents' machine events.
pub const MACHINE_EVENT_PREFIX: &str = "choria.machine.";

/// Whether `subject` is under `choria.lifecycle.`, the subjects `CHORIA_EVENTS` stores.
pub fn is_lifecycle_subject(subject: &str) -> bool {
    subject.starts_with("choria.lifecycle.")
}

/// The parts of a lifecycle event's subject, `choria.lifecycle.event.<type>.<component>`.
///
/// ```
/// use lifecycle_core::LifecycleSubject;
///
/// let subject = LifecycleSubject::parse("choria.lifecycle.event.alive.server").unwrap();
/// assert_eq!((subject.event_type(), subject.component()), ("alive", "server"));
/// assert!(LifecycleSubject::parse("choria.machine.transition").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleSubject<'a> {
    event_type: &'a str,
    component: &'a str,
}

impl<'a> LifecycleSubject<'a> {
    /// Splits `subject`; `None` unless it is exactly the prefix, a type and a component,
    /// each one non-empty token.
    pub fn parse(subject: &'a str) -> Option<LifecycleSubject<'a>> {
        let (event_type, component) = subject
            .strip_prefix(LIFECYCLE_EVENT_PREFIX)?
            .split_once('.')?;
        (!event_type.is_empty() && !component.is_empty() && !component.contains('.')).then_some(
            LifecycleSubject {
                event_type,
                component,
            },
        )
    }

    /// The event type's token (`alive`, `startup`, ...), as the subject says it.
    pub fn event_type(&self) -> &'a str {
        self.event_type
    }

    /// The component's token.
    pub fn component(&self) -> &'a str {
        self.component
    }
}

pub(crate) fn problem(text: &str) -> Option<TokenProblem> {
    if text.is_empty() {
        return Some(TokenProblem::Empty);
    }
    // Printable ASCII other than the three is a token: decided a byte at a time, since
    // every event built passes here.
    if text
        .bytes()
        .all(|b| matches!(b, 0x21..=0x7e) && !matches!(b, b'.' | b'*' | b'>'))
    {
        return None;
    }
    text.chars().find_map(|c| match c {
        '.' | '*' | '>' => Some(TokenProblem::Reserved(c)),
        c if c.is_whitespace() => Some(TokenProblem::WhiteSpace(c)),
        c if c.is_control() || c == char::REPLACEMENT_CHARACTER => Some(TokenProblem::Control(c)),
        _ => None,
    })
}

/// Why a text is not a subject token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// The text is empty.
    Empty,
    /// The separator `.` or a wildcard, `*` or `>`.
    Reserved(char),
    /// A white space character.
    WhiteSpace(char),
    /// A control character, or U+FFFD.
    Control(char),
}

impl TokenProblem {
    /// The problem in words, without the character: for errors that take a fixed reason.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenProblem::Empty => "a NATS subject token cannot be empty",
            TokenProblem::Reserved(_) => "a NATS subject token cannot hold '.', '*' or '>'",
            TokenProblem::WhiteSpace(_) => "a NATS subject token cannot hold white space",
            TokenProblem::Control(_) => {
                "a NATS subject token cannot hold control characters or U+FFFD"
            }
        }
    }
}

impl fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenProblem::Empty => f.write_str(self.reason()),
            TokenProblem::Reserved(c) => write!(f, "a NATS subject token cannot hold '{c}'"),
            TokenProblem::WhiteSpace(c) => write!(
                f,
                "a NATS subject token cannot hold white space ('{}')",
                TerminalSafe(c)
            ),
            TokenProblem::Control(c) => write!(
                f,
                "a NATS subject token cannot hold a control character ('{}')",
                TerminalSafe(c)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lifecycle_subject_has_a_type_and_a_component_and_nothing_else() {
        use super::{LifecycleSubject, is_lifecycle_subject};
        let parts = |s| LifecycleSubject::parse(s).map(|p| (p.event_type(), p.component()));
        assert_eq!(
            parts("choria.lifecycle.event.upgraded.сервер"),
            Some(("upgraded", "сервер"))
        );
        for not in [
            "",
            "choria.lifecycle.event",
            "choria.lifecycle.event.",
            "choria.lifecycle.event.alive",
            "choria.lifecycle.event.alive.",
            "choria.lifecycle.event..server",
            "choria.lifecycle.event.alive.server.extra",
            "choria.machine.transition",
            "xchoria.lifecycle.event.alive.server",
        ] {
            assert_eq!(parts(not), None, "{not:?}");
        }
        assert!(is_lifecycle_subject("choria.lifecycle.event.alive.server"));
        assert!(is_lifecycle_subject("choria.lifecycle.dead"));
        assert!(!is_lifecycle_subject("choria.machine.transition"));
    }

    use super::*;

    #[test]
    fn tokens() {
        use TokenProblem::*;
        let cases: &[(&str, Option<TokenProblem>)] = &[
            ("server", None),
            ("choria-provisioner", None),
            ("my_component2", None),
            ("A", None),
            ("x+y=z@host:4222/#", None),
            ("сервер", None),
            ("東京", None),
            ("e\u{301}", None),
            // Format characters are not control characters; they are escaped on display.
            ("a\u{200b}b\u{202e}", None),
            ("", Some(Empty)),
            (".", Some(Reserved('.'))),
            ("my.server", Some(Reserved('.'))),
            ("a*", Some(Reserved('*'))),
            ("*", Some(Reserved('*'))),
            (">", Some(Reserved('>'))),
            ("a>b", Some(Reserved('>'))),
            ("my server", Some(WhiteSpace(' '))),
            ("a\tb", Some(WhiteSpace('\t'))),
            ("a\nb", Some(WhiteSpace('\n'))),
            ("a\rb", Some(WhiteSpace('\r'))),
            ("\u{b}", Some(WhiteSpace('\u{b}'))),
            ("\u{c}", Some(WhiteSpace('\u{c}'))),
            ("a\u{85}", Some(WhiteSpace('\u{85}'))),
            ("a\u{a0}b", Some(WhiteSpace('\u{a0}'))),
            ("a\u{2028}", Some(WhiteSpace('\u{2028}'))),
            ("a\u{3000}", Some(WhiteSpace('\u{3000}'))),
            ("a\0", Some(Control('\0'))),
            ("\u{1b}[2J", Some(Control('\u{1b}'))),
            ("a\u{7f}", Some(Control('\u{7f}'))),
            ("a\u{9b}", Some(Control('\u{9b}'))),
            ("a\u{fffd}", Some(Control('\u{fffd}'))),
            // The first problem is the one named.
            ("a b.c", Some(WhiteSpace(' '))),
        ];
        for (text, expected) in cases {
            assert_eq!(problem(text), *expected, "{text:?}");
            assert_eq!(is_subject_token(text), expected.is_none(), "{text:?}");
            let checked = check_subject_token("component", text);
            let refused = checked.err().map(|e| match e.kind() {
                ErrorKind::SubjectToken { problem, .. } => *problem,
                other => panic!("{other:?}"),
            });
            assert_eq!(refused, *expected, "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_field_the_value_and_the_character() {
        let cases = [
            (
                "",
                "invalid component '': a NATS subject token cannot be empty",
            ),
            (
                "a.b",
                "invalid component 'a.b': a NATS subject token cannot hold '.'",
            ),
            (
                "a\tb",
                r"invalid component 'a\tb': a NATS subject token cannot hold white space ('\t')",
            ),
            (
                "x\u{1b}[2J",
                r"invalid component 'x\x1b[2J': a NATS subject token cannot hold a control character ('\x1b')",
            ),
            (
                "a\u{9b}",
                r"invalid component 'a\u{9b}': a NATS subject token cannot hold a control character ('\u{9b}')",
            ),
        ];
        for (text, message) in cases {
            let err = check_subject_token("component", text).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert!(
                matches!(err.kind(), ErrorKind::SubjectToken { field, value, .. }
                    if field == "component" && value == text),
                "{text:?}"
            );
        }
    }
}
