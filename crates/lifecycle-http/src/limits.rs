//! What a server allows its clients.

use std::time::Duration;

/// The limits [`serve`](crate::serve) holds its clients to. The defaults suit a metrics or
/// API endpoint on a network where not every client is friendly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a request's head (request line and headers), from when
    /// its connection opens or its previous response ended; then the connection is closed.
    /// This also closes kept-alive connections left idle that long. Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a handler has to produce its response; then the client gets 503. The
    /// response body is not bounded by it, so streams (Server-Sent Events) go on. Default
    /// 30 s.
    pub request_timeout: Duration,
    /// Connections served at once (at least 1); more wait in the listener's accept queue
    /// until one closes. Default 512: below the usual limit of 1,024 open files.
    pub max_connections: usize,
    /// Once shutdown is asked, how long requests under way have to finish; then their
    /// connections are closed. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}
