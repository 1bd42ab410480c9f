//! [`DnsError`]: why a provider call or a propagation check failed.

/// Why a DNS provider call failed, classified so an order error says what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DnsError {
    /// Credentials refused (HTTP 401/403, TSIG BADKEY/BADSIG, DNS REFUSED/NOTAUTH).
    #[error("the DNS provider refused the credentials: {0}")]
    Auth(String),
    /// The provider's rate limit (HTTP 429); `retry_after` in seconds when given.
    #[error("the DNS provider's rate limit was hit: {message}")]
    RateLimited {
        message: String,
        retry_after: Option<u64>,
    },
    /// The provider failed (HTTP 5xx, DNS SERVFAIL).
    #[error("the DNS provider failed: {0}")]
    Server(String),
    /// The provider refused the request (other HTTP 4xx, e.g. no such zone).
    #[error("the DNS provider rejected the request: {0}")]
    Rejected(String),
    /// The provider could not be reached.
    #[error("the DNS provider could not be reached: {0}")]
    Transport(String),
    /// The provider's endpoint is refused by the endpoint policy (`[dns]
    /// allow_insecure_endpoints`): plain http, or a local or non-public host.
    #[error("the DNS provider's endpoint is refused: {0}")]
    Refused(String),
    /// The provider's configuration is unusable (bad key, bad secret format).
    #[error("the DNS provider's configuration is unusable: {0}")]
    Config(String),
    /// The propagation check's deadline passed before every authoritative nameserver served
    /// the value; the message names those that did not and what they answered.
    #[error("propagation timed out: {0}")]
    NotPropagated(String),
}

impl DnsError {
    /// Whether retrying later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DnsError::RateLimited { .. }
                | DnsError::Server(_)
                | DnsError::Transport(_)
                | DnsError::NotPropagated(_)
        )
    }

    /// A stable name of the kind of failure, for an API error's details.
    pub fn code(&self) -> &'static str {
        match self {
            DnsError::Auth(_) => "auth",
            DnsError::RateLimited { .. } => "rate_limited",
            DnsError::Server(_) => "server",
            DnsError::Rejected(_) => "rejected",
            DnsError::Transport(_) => "transport",
            DnsError::Refused(_) => "refused",
            DnsError::Config(_) => "config",
            DnsError::NotPropagated(_) => "not_propagated",
        }
    }
}
