//! Secrets of Choria lifecycle events' tools: the one rule that shows a URL in any output,
//! and the one way a secret is read from a file, the environment or a systemd credential.
//!
//! - [`redact`] shows a parsed [`Url`] with its user, password, query values and fragment
//!   replaced by `***`; [`redact_str`] does the same for text that may not be a URL, and
//!   never echoes one that does not parse.
//! - [`check_url`] parses a URL with one of the schemes a caller accepts; its [`Error`]
//!   says what is wrong ("invalid port number", "unknown scheme 'htps'") without the text.
//! - [`Secret`] is a string that never shows in `Debug` output.
//! - [`read_file`] and [`resolve`] read a secret: a flag's value, a file, or
//!   `$CREDENTIALS_DIRECTORY/<name>` (systemd's `LoadCredential=`; [`credential_path`] for
//!   one another library opens itself); an [`Error`] names the file, never its content,
//!   and a file over [`MAX_SECRET_BYTES`] is refused unread.
//!
//! ```
//! use lifecycle_secret::{check_url, redact, redact_str};
//!
//! let url = check_url("https://TOKEN@gw.example.net/hook?key=abc#frag", &["http", "https"]).unwrap();
//! assert_eq!(redact(&url), "https://***@gw.example.net/hook?key=***#***");
//! assert_eq!(redact_str("http://alice:pass@h:999999/"), "(invalid URL: invalid port number)");
//! let error = check_url("htps://alice:pass@h/", &["http", "https"]).unwrap_err();
//! assert_eq!(error.to_string(), "unknown scheme 'htps' (expected http:// or https://)");
//! ```

mod error;
mod read;
mod redact;
mod secret;

pub use error::{Error, ErrorKind};
pub use read::{MAX_SECRET_BYTES, credential, credential_path, read_file, resolve};
pub use redact::{check_url, redact, redact_str};
pub use secret::Secret;
pub use url::Url;
