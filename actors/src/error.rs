//! The actors crate's one error type.

use scaivault_domain::account::RegistrationRefusal;

use crate::acme::{AcmeProblem, ProblemKind, error_retry_after};

/// Why an actor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A domain rule or the store refused.
    #[error(transparent)]
    Domain(#[from] scaivault_domain::Error),
    /// A registration refused before reaching the CA.
    #[error(transparent)]
    Refused(#[from] RegistrationRefusal),
    /// The local rate-limit ledger refused the order before the CA was asked.
    #[error(transparent)]
    LocalRateLimit(#[from] scaivault_domain::rate_limit::RateLimitRefusal),
    /// The CA answered with a problem document.
    #[error("the ACME server refused: {}", .problem.detail_or_kind())]
    Acme { problem: AcmeProblem },
    /// The CA could not be reached or spoke no ACME (TLS failure, connection refused, bad JSON).
    #[error("the ACME server at {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// A DNS provider failed or refused (dns-01).
    #[error(transparent)]
    Dns(#[from] scaivault_dns::DnsError),
    /// The trusted roots for talking to ACME servers could not be loaded.
    #[error("ACME trust roots: {0}")]
    Roots(String),
    /// The actor that owns the work is gone or did not answer in time.
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    /// How long the CA asked us to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Acme { problem } => problem.retry_after,
            Error::LocalRateLimit(refusal) => Some(refusal.retry_after),
            _ => None,
        }
    }

    /// Classifies an instant-acme error from talking to the server at `url`.
    pub(crate) fn from_acme(url: &str, err: instant_acme::Error) -> Self {
        match err {
            instant_acme::Error::Api(problem) => Error::Acme {
                problem: AcmeProblem {
                    kind: ProblemKind::from_type(problem.r#type.as_deref()),
                    detail: problem.detail,
                    status: problem.status,
                    // The CA's Retry-After with this error, recorded by the HTTP client when
                    // inside `acme::capture_retry_after`.
                    retry_after: error_retry_after(),
                },
            },
            other => Error::Unreachable {
                url: url.to_owned(),
                reason: error_chain(&other),
            },
        }
    }
}

/// An error with its sources, so "connection refused" or "invalid peer certificate: UnknownIssuer"
/// reaches the operator instead of a bare "HTTP request failure".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
