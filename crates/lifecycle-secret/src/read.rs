//! Reading a secret from where no other user can see it: a file, the environment, or a
//! systemd credential. A command line is readable by every local user (`/proc/PID/cmdline`).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Secret;
use crate::error::{Error, ErrorKind};

/// The directory systemd hands a service's credentials in (`LoadCredential=NAME:PATH`
/// makes `$CREDENTIALS_DIRECTORY/NAME`).
const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// The most a secret file may hold: a token, a URL, a list of servers. A path given by
/// mistake (`/dev/zero`, a log) is refused rather than read to the end.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// The secret in the file at `path`, without one trailing newline (`\n` or `\r\n`). An
/// unreadable, empty or non-UTF-8 file is an error naming the path, never the content.
pub fn read_file(path: &Path) -> Result<Secret, Error> {
    let error = |kind, source| Error::file(kind, path, source);
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_SECRET_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| error(ErrorKind::Unreadable, Some(e)))?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(error(
            ErrorKind::TooLarge {
                max: MAX_SECRET_BYTES,
            },
            None,
        ));
    }
    // The content never reaches the error: neither does the UTF-8 error, which quotes bytes.
    let text = String::from_utf8(bytes).map_err(|_| error(ErrorKind::NotText, None))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.is_empty() {
        return Err(error(ErrorKind::Empty, None));
    }
    Ok(Secret::new(text))
}

/// The systemd credential `name` (`$CREDENTIALS_DIRECTORY/name`), or `None` when this
/// process has no credentials directory or no such credential.
pub fn credential(name: &str) -> Result<Option<Secret>, Error> {
    credential_path(name)
        .map(|path| read_file(&path))
        .transpose()
}

/// Where the systemd credential `name` is (`$CREDENTIALS_DIRECTORY/name`), for a secret
/// read as a file by another library (a NATS credentials file); `None` when this process
/// has no credentials directory or no such credential.
pub fn credential_path(name: &str) -> Option<PathBuf> {
    let path = Path::new(&std::env::var_os(CREDENTIALS_DIRECTORY)?).join(name);
    path.exists().then_some(path)
}

/// A secret from, in this order: `file` (a `--...-file PATH` flag), `value` (its flag or
/// environment variable), then the systemd credential `credential`. `None` when none
/// of them is given.
pub fn resolve(
    value: Option<&str>,
    file: Option<&Path>,
    credential: &str,
) -> Result<Option<Secret>, Error> {
    if let Some(path) = file {
        return read_file(path).map(Some);
    }
    if let Some(value) = value {
        return Ok(Some(Secret::new(value)));
    }
    self::credential(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_too_large_or_never_ending_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, "x".repeat(MAX_SECRET_BYTES as usize + 1)).unwrap();
        let error = read_file(&path).unwrap_err();
        assert_eq!(
            error.kind(),
            &ErrorKind::TooLarge {
                max: MAX_SECRET_BYTES
            }
        );
        assert!(!error.to_string().contains("xxx"), "{error}");
        std::fs::write(&path, "x".repeat(MAX_SECRET_BYTES as usize)).unwrap();
        assert_eq!(
            read_file(&path).unwrap().expose().len(),
            MAX_SECRET_BYTES as usize
        );
        #[cfg(unix)]
        assert_eq!(
            read_file(Path::new("/dev/zero")).unwrap_err().kind(),
            &ErrorKind::TooLarge {
                max: MAX_SECRET_BYTES
            }
        );
    }

    #[test]
    fn a_file_loses_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        for (content, secret) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret", "s3cret"),
            ("s3cret\n\n", "s3cret\n"),
            (" s3cret ", " s3cret "),
        ] {
            let path = dir.path().join("secret");
            std::fs::write(&path, content).unwrap();
            assert_eq!(read_file(&path).unwrap().expose(), secret, "{content:?}");
        }
    }

    #[test]
    fn a_file_that_cannot_be_used_is_named_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let missing = read_file(&path).unwrap_err();
        assert_eq!(missing.kind(), &ErrorKind::Unreadable);
        assert_eq!(
            missing.to_string(),
            format!("cannot read the secret file {}", path.display())
        );
        assert!(std::error::Error::source(&missing).is_some());
        for (content, kind, message) in [
            (&b"\n"[..], ErrorKind::Empty, "is empty"),
            (b"", ErrorKind::Empty, "is empty"),
            (b"s3cret\xff\n", ErrorKind::NotText, "is not UTF-8 text"),
        ] {
            std::fs::write(&path, content).unwrap();
            let error = read_file(&path).unwrap_err();
            assert_eq!(error.kind(), &kind);
            assert_eq!(error.path(), Some(path.as_path()));
            assert_eq!(
                error.to_string(),
                format!("the secret file {} {message}", path.display())
            );
            assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
        }
    }

    #[test]
    fn a_file_wins_over_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        let absent = "lifecycle-secret-test-no-such-credential";
        let secret = resolve(Some("from-flag"), Some(&path), absent).unwrap();
        assert_eq!(secret.unwrap().expose(), "from-file");
        let secret = resolve(Some("from-flag"), None, absent).unwrap();
        assert_eq!(secret.unwrap().expose(), "from-flag");
    }
}
