//! The error body every failure of the API carries, and its stable codes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// Depends on the code: `field` (the offending field), `required_scope`, `retry_after`
    /// (seconds, also in the `Retry-After` header), `ca_problem` (the CA's RFC 7807 problem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// Every error code the API sends. Callers may match on these; they do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A field is missing, of the wrong type or value (`details.field` names it).
    InvalidRequest,
    /// The body is not JSON.
    InvalidJson,
    /// No bearer token, or an unknown or expired one.
    Unauthorized,
    /// The token lacks the scope (`details.required_scope`).
    Forbidden,
    NotFound,
    /// The request contradicts the current state (e.g. a deactivated account).
    Conflict,
    /// Too many orders from this token (`Retry-After`).
    RateLimited,
    /// The CA's rate limit, or the local ledger of it (`details.retry_after`, `Retry-After`).
    BackendRateLimited,
    /// The CA paused issuance through the account for some of the names (`details.identifiers`,
    /// `details.unpause_url`, `details.account_id`, `details.since`): waiting does not help;
    /// visit `unpause_url`, then order again (or clear the pause here).
    AccountPaused,
    /// The CA or a DNS provider failed or could not be reached.
    BackendError,
    /// A DNS provider test's probe record was not served by every authoritative nameserver
    /// within `[dns] propagation_timeout` (504; `details.fqdn`, `details.removed`).
    DnsPropagationTimeout,
    /// The CA refused the request (`details.ca_problem`).
    CaRejected,
    /// The CA requires External Account Binding.
    EabRequired,
    /// CAA records forbid this CA, account or challenge type to issue for a name (RFC 8659,
    /// RFC 8657); refused before the CA was asked (`details.denials`).
    CaaForbidden,
    /// The provider stopped its ACME service.
    ProviderDiscontinued,
    /// The certificate was issued from the caller's CSR: no private key is held.
    NoPrivateKey,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    /// Shutting down or not ready (`Retry-After`).
    Unavailable,
    /// An unexpected failure, logged under the request id.
    Internal,
}

impl ErrorCode {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::BackendRateLimited => "backend_rate_limited",
            ErrorCode::AccountPaused => "account_paused",
            ErrorCode::BackendError => "backend_error",
            ErrorCode::DnsPropagationTimeout => "dns_propagation_timeout",
            ErrorCode::CaRejected => "ca_rejected",
            ErrorCode::EabRequired => "eab_required",
            ErrorCode::CaaForbidden => "caa_forbidden",
            ErrorCode::ProviderDiscontinued => "provider_discontinued",
            ErrorCode::NoPrivateKey => "no_private_key",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::BackendRateLimited,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::NoPrivateKey,
            ErrorCode::DnsPropagationTimeout,
            ErrorCode::AccountPaused,
            ErrorCode::CaaForbidden,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
