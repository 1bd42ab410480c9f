//! How long and how much the ACME client gives a CA: a CA that accepts a connection and never
//! answers, or answers without end, must not hold a socket and an account's work forever.
//! When a limit is hit the request's future is dropped, which closes its connection, and the
//! operation fails with a typed error ([`crate::Error::Unreachable`]).

use std::time::Duration;

/// The largest answer read from a CA. ACME answers are small JSON documents and PEM chains
/// (a few KiB); anything near this is not an ACME server talking.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The time limits of one request to a CA (`[acme] connect_timeout`, `header_timeout`,
/// `request_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Until the TCP connection is established.
    pub connect: Duration,
    /// Until the response headers arrived (connect, TLS handshake and the CA's work).
    pub headers: Duration,
    /// The whole exchange, reading the body included.
    pub total: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            headers: Duration::from_secs(30),
            total: Duration::from_secs(60),
        }
    }
}

/// A limit an exchange with a CA ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error("no response headers within {0:?}")]
    Headers(Duration),
    #[error("the exchange took longer than {0:?}")]
    Total(Duration),
    #[error("the answer is larger than {MAX_BODY_BYTES} bytes")]
    Body,
}
