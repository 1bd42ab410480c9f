//! The domain's one error type. Every variant maps onto a stable API error code at the edge, so
//! the variants describe *what kind* of failure happened, not where.

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
    #[error("store: {0}")]
    Store(String),
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
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
