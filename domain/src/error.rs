//! The domain's one error type. Every variant maps onto a stable API error code at the edge, so
//! the variants describe *what kind* of failure happened, not where.

use std::fmt;

/// Any error, kept as the source of a wrapping one.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Errors raised by validation, sealing and the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; `field` names the offending input so callers can fix it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A record that does not exist (or is not visible to the caller).
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// The request collides with the current state (a duplicate name, a record in use).
    #[error("{0}")]
    Conflict(String),
    /// A sealed record could not be opened: wrong master key or tampered data.
    #[error("sealed data could not be opened: {0}")]
    Crypto(String),
    /// The database failed; the message is for logs, never for API responses.
    #[error("store ({kind}): {source}")]
    Store {
        kind: StoreFailure,
        #[source]
        source: BoxError,
    },
}

/// What kind of store failure happened, so a pool running dry, a lost connection and a corrupt
/// row are told apart upstream (logs, readiness, retries) without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// No connection could be had in time: the pool is exhausted, timed out or closed.
    Unavailable,
    /// The connection to the database broke or could not be made (I/O, TLS, protocol).
    Connection,
    /// The database refused or failed a statement.
    Query,
    /// A value does not fit the records: a stored row that does not decode, or a record that
    /// cannot be encoded for storage.
    Data,
}

impl StoreFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreFailure::Unavailable => "unavailable",
            StoreFailure::Connection => "connection",
            StoreFailure::Query => "query",
            StoreFailure::Data => "data",
        }
    }
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// A store failure of `kind` caused by `source`.
    pub fn store(kind: StoreFailure, source: impl Into<BoxError>) -> Self {
        Self::Store {
            kind,
            source: source.into(),
        }
    }

    /// Stored data that does not make sense (a row that does not decode, records that contradict
    /// each other): [`StoreFailure::Data`] with `message` as its source.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::store(StoreFailure::Data, message.into())
    }

    /// The kind of store failure, if this is one.
    pub fn store_failure(&self) -> Option<StoreFailure> {
        match self {
            Error::Store { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_kind_and_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let err = Error::store(StoreFailure::Connection, io);
        assert_eq!(err.store_failure(), Some(StoreFailure::Connection));
        assert_eq!(err.to_string(), "store (connection): reset by peer");
        let source = std::error::Error::source(&err).expect("source kept");
        assert_eq!(source.to_string(), "reset by peer");
        assert_eq!(
            Error::corrupt("column status: unexpected value").store_failure(),
            Some(StoreFailure::Data)
        );
        assert_eq!(Error::Conflict("taken".into()).store_failure(), None);
    }
}
