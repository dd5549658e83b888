//! Which nats-server a feature needs, checked against the version a server announces, so
//! that an old server is named at the start rather than met as a decoding error or an
//! endless retry later.

use std::fmt;

/// A nats-server version: `2.10.3`, read from what the server announces (`2.11.0-beta.2`
/// reads as 2.11.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// The major version.
    pub major: u32,
    /// The minor version.
    pub minor: u32,
    /// The patch.
    pub patch: u32,
}

/// What JetStream needs of a server: replays (`--since`), durable consumers with several
/// filter subjects, key-value buckets (`--election`), object stores (snapshots).
pub const JETSTREAM_MIN_VERSION: ServerVersion = ServerVersion::new(2, 10, 0);

impl ServerVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> ServerVersion {
        ServerVersion {
            major,
            minor,
            patch,
        }
    }

    /// The version in `text` as a server announces it; `None` when it is not one.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|part| part.parse::<u32>().ok());
        let version = ServerVersion::new(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(version)
    }
}

/// `2.10` for a `.0` release (what a requirement reads as), else `2.10.3`.
impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            0 => write!(f, "{}.{}", self.major, self.minor),
            patch => write!(f, "{}.{}.{patch}", self.major, self.minor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_servers_announce_them() {
        for (text, version) in [
            ("2.10.3", Some(ServerVersion::new(2, 10, 3))),
            ("2.9.10", Some(ServerVersion::new(2, 9, 10))),
            ("2.11.0-beta.2", Some(ServerVersion::new(2, 11, 0))),
            ("v2.15.1", Some(ServerVersion::new(2, 15, 1))),
            ("2.10", None),
            ("2.10.3.4", None),
            ("", None),
            ("two", None),
        ] {
            assert_eq!(ServerVersion::parse(text), version, "{text:?}");
        }
        assert!(ServerVersion::new(2, 9, 10) < JETSTREAM_MIN_VERSION);
        assert!(ServerVersion::new(2, 10, 0) >= JETSTREAM_MIN_VERSION);
        assert_eq!(JETSTREAM_MIN_VERSION.to_string(), "2.10");
        assert_eq!(ServerVersion::new(2, 9, 10).to_string(), "2.9.10");
    }
}
