//! The crate's one error: a secret file that cannot be used, or a URL refused. Neither
//! message ever quotes the secret: a file is named, a URL described.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A secret file that could not be used (its path and why, never its content), or a URL
/// refused by [`check_url`](crate::check_url) (what is wrong with it, never the text).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    /// The secret file, for the file kinds.
    path: Option<PathBuf>,
    /// The schemes the caller takes, for the URL kinds.
    expected: &'static [&'static str],
    source: Option<io::Error>,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The secret file could not be read (the I/O error is the source).
    Unreadable,
    /// The secret file is empty, or holds a newline only.
    Empty,
    /// The secret file is not UTF-8 text.
    NotText,
    /// The secret file holds more than this many bytes
    /// ([`MAX_SECRET_BYTES`](crate::MAX_SECRET_BYTES)).
    TooLarge {
        /// The most a secret file may hold.
        max: u64,
    },
    /// The URL does not start with `scheme://`.
    NoScheme,
    /// A scheme the caller does not take (the scheme, which holds no secret).
    UnknownScheme(String),
    /// The URL does not parse: `invalid port number`, `invalid IPv6 address`...
    Syntax(url::ParseError),
    /// The URL has no host.
    NoHost,
    /// The URL holds white space or a control character.
    Whitespace,
}

impl Error {
    pub(crate) fn file(kind: ErrorKind, path: &Path, source: Option<io::Error>) -> Error {
        Error {
            kind,
            path: Some(path.to_owned()),
            expected: &[],
            source,
        }
    }

    pub(crate) fn url(kind: ErrorKind, expected: &'static [&'static str]) -> Error {
        Error {
            kind,
            path: None,
            expected,
            source: None,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The secret file, when the error is about one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// ` (expected http:// or https://)`, or nothing when any scheme would do.
    fn expected(&self) -> String {
        let schemes: Vec<String> = self.expected.iter().map(|s| format!("{s}://")).collect();
        match schemes.as_slice() {
            [] => String::new(),
            [one] => format!(" (expected {one})"),
            [rest @ .., last] => format!(" (expected {} or {last})", rest.join(", ")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.as_deref().unwrap_or(Path::new("")).display();
        match &self.kind {
            ErrorKind::Unreadable => write!(f, "cannot read the secret file {path}"),
            ErrorKind::Empty => write!(f, "the secret file {path} is empty"),
            ErrorKind::NotText => write!(f, "the secret file {path} is not UTF-8 text"),
            ErrorKind::TooLarge { max } => write!(
                f,
                "the secret file {path} holds more than {max} bytes: not a secret"
            ),
            ErrorKind::NoScheme => write!(f, "no scheme{}", self.expected()),
            ErrorKind::UnknownScheme(scheme) => {
                write!(f, "unknown scheme '{scheme}'{}", self.expected())
            }
            ErrorKind::Syntax(error) => write!(f, "{error}"),
            ErrorKind::NoHost => f.write_str("no host"),
            ErrorKind::Whitespace => f.write_str("white space or a control character in it"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
