//! The HTTP error type, and the only `IntoResponse` of the service: every failure leaves as
//! `{"error": {"code", "message", "details"}}` with a stable `code`. A 5xx never carries internals;
//! those go to the log with the request id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scaivault_actors::{AcmeProblem, Error as ActorError};
use scaivault_contract::{ErrorBody, ErrorCode, ErrorDetail};
use scaivault_domain::account::RegistrationRefusal;
use serde_json::{Value, json};

/// Seconds a caller is told to wait after a CA's `rateLimited` problem that came without a
/// `Retry-After` header.
pub const DEFAULT_RATE_LIMIT_RETRY_AFTER: u64 = 3600;

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds, for `Retry-After` on 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
            .with_details(json!({ "field": field }))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    /// An unexpected failure: logged in full, answered without detail.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; the service log has the details under this request's id",
        )
    }

    fn from_problem(problem: AcmeProblem) -> Self {
        use scaivault_actors::ProblemKind as P;
        let details = json!({ "ca_problem": problem });
        let detail = problem.detail_or_kind();
        match problem.kind {
            P::RateLimited => {
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::BackendRateLimited,
                    format!("the CA's rate limit was hit: {detail}"),
                );
                // RFC 8555 §6.6: the CA's Retry-After (read from the response by our ACME HTTP
                // client), rounded up to whole seconds; when the CA sent none, an hour is the
                // documented conservative wait.
                let seconds = problem
                    .retry_after
                    .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
                    .unwrap_or(DEFAULT_RATE_LIMIT_RETRY_AFTER);
                err.retry_after = Some(seconds);
                err.with_details(json!({ "ca_problem": problem, "retry_after": seconds }))
            }
            P::ExternalAccountRequired => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::EabRequired,
                format!("the CA requires External Account Binding: {detail}"),
            )
            .with_details(details),
            P::Malformed
            | P::InvalidContact
            | P::UnsupportedContact
            | P::Unauthorized
            | P::BadPublicKey
            | P::RejectedIdentifier
            | P::UnsupportedIdentifier
            | P::AccountDoesNotExist
            | P::UserActionRequired
            | P::BadRevocationReason
            | P::BadCsr
            | P::BadSignatureAlgorithm
            | P::Caa
            | P::AlreadyRevoked => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::CaRejected,
                format!("the CA refused the request: {detail}"),
            )
            .with_details(details),
            _ => Self::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::BackendError,
                format!("the CA failed: {detail}"),
            )
            .with_details(details),
        }
    }
}

impl From<scaivault_domain::Error> for ApiError {
    fn from(err: scaivault_domain::Error) -> Self {
        use scaivault_domain::Error as E;
        match err {
            E::Invalid { field, message } => {
                ApiError::invalid(&field, format!("{field}: {message}"))
            }
            E::NotFound { kind, id } => ApiError::not_found(format!("{kind} {id} not found")),
            E::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
            }
            other @ (E::Crypto(_) | E::Store { .. }) => ApiError::internal(other),
        }
    }
}

impl From<ActorError> for ApiError {
    fn from(err: ActorError) -> Self {
        match err {
            ActorError::Domain(err) => err.into(),
            ActorError::Refused(RegistrationRefusal::Invalid(err)) => err.into(),
            ActorError::Refused(refusal @ RegistrationRefusal::Discontinued { .. }) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::ProviderDiscontinued,
                refusal.to_string(),
            ),
            ActorError::Refused(refusal @ RegistrationRefusal::EabRequired { .. }) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::EabRequired,
                refusal.to_string(),
            )
            .with_details(json!({ "field": "eab" })),
            ActorError::Acme { problem } => Self::from_problem(problem),
            // Not a 429: waiting does not lift a pause, so there is no Retry-After to honour.
            // The link goes to the caller (it needs pki:write here, pki:read on the account).
            ActorError::Paused(refusal) => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::AccountPaused,
                refusal.to_string(),
            )
            .with_details(json!({
                "account_id": refusal.account_id,
                "identifiers": refusal.identifiers,
                "unpause_url": refusal.unpause_url,
                "since": refusal
                    .since
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            })),
            // The caller's names are the problem, and nothing was asked of the CA: each
            // forbidden name with its relevant records and why each does not allow issuance.
            ActorError::CaaForbidden(refusal) => {
                let denials: Vec<Value> = refusal
                    .denials
                    .iter()
                    .map(|denial| {
                        json!({
                            "domain": denial.domain,
                            "name": denial.set.name,
                            "owner": denial.set.owner,
                            "records": denial.objections.iter().map(|(record, why)| json!({
                                "record": denial.set.line(record),
                                "reason": why.to_string(),
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                Self::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::CaaForbidden,
                    refusal.to_string(),
                )
                .with_details(json!({ "denials": denials }))
            }
            ActorError::LocalRateLimit(refusal) => {
                let seconds = refusal.retry_after.as_secs();
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::BackendRateLimited,
                    refusal.to_string(),
                )
                .with_details(json!({
                    "retry_after": seconds,
                    "limit": refusal.kind.limit_name(),
                    "subject": refusal.subject,
                    "count": refusal.count,
                    "max": refusal.max,
                    "window_seconds": refusal.window.as_secs(),
                    "source": "local_ledger",
                }));
                err.retry_after = Some(seconds);
                err
            }
            // What the guard refused and why (never the address a name resolved to); the
            // caller chose the CA, so it is their request that cannot be served.
            ActorError::Forbidden { url, refused } => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                format!("the ACME server is refused: {}", refused.message),
            )
            .with_details(json!({
                "reason": "refused_by_policy",
                "refusal": refused.refusal.code(),
                "directory_url": url,
            })),
            // Only the kind of failure: connection errors and handshake failures describe the
            // network from the inside (they are in the log, with the URL).
            ActorError::Unreachable { url, kind, .. } => Self::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::BackendError,
                format!("the ACME server is unreachable ({kind}); the service log has the details"),
            )
            .with_details(json!({
                "reason": "unreachable",
                "failure": kind.code(),
                "directory_url": url,
            })),
            ActorError::Unavailable(message) => {
                let mut err = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    message,
                );
                err.retry_after = Some(5);
                err
            }
            ActorError::Dns(err) => Self::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::BackendError,
                format!("DNS provider: {err}"),
            ),
            other @ ActorError::Roots(_) => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
