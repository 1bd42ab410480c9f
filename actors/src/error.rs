//! The actors crate's one error type.

use std::fmt;

use scaivault_domain::account::RegistrationRefusal;
use scaivault_domain::outbound::Refused;

use crate::acme::{AcmeProblem, Exceeded, ProblemKind, error_retry_after};

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
    /// CAA records forbid this CA (or this account, or this challenge type) to issue for some
    /// of the order's names (RFC 8659, RFC 8657): refused before the CA was asked.
    #[error(transparent)]
    CaaForbidden(#[from] scaivault_domain::caa::CaaRefusal),
    /// The CA answered with a problem document.
    #[error("the ACME server refused: {}", .problem.detail_or_kind())]
    Acme { problem: AcmeProblem },
    /// The CA paused issuance through the account for some of the names
    /// (`scaivault_domain::pause`): waiting does not help, only the unpause link does.
    #[error(transparent)]
    Paused(#[from] scaivault_domain::pause::PauseRefusal),
    /// The outbound guard refused an address the conversation with the CA needed (the
    /// directory's, or one a CA's answer named): `[acme] allow_private_directories` is off.
    #[error("the ACME server at {url} is not contacted: {refused}")]
    Forbidden { url: String, refused: Refused },
    /// The CA could not be reached or spoke no ACME. `detail` (connection errors, certificate
    /// names from a failed handshake) is for the log, not for callers: it would describe the
    /// network from the inside.
    #[error("the ACME server at {url} is unreachable ({kind})")]
    Unreachable {
        url: String,
        kind: UnreachableKind,
        detail: String,
    },
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

/// Why a CA could not be reached, as callers may be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableKind {
    /// Its name does not resolve.
    Unresolvable,
    /// No connection (refused, reset, no route).
    Connect,
    /// The TLS handshake failed (untrusted certificate, protocol mismatch).
    Tls,
    /// A time limit passed (`[acme] connect_timeout`, `header_timeout`, `request_timeout`).
    Timeout,
    /// The answer was larger than the cap.
    TooLarge,
    /// It answered, but not ACME (bad JSON, missing fields).
    Protocol,
}

impl UnreachableKind {
    /// A stable code for `details.failure`.
    pub fn code(self) -> &'static str {
        match self {
            UnreachableKind::Unresolvable => "unresolvable",
            UnreachableKind::Connect => "connect",
            UnreachableKind::Tls => "tls",
            UnreachableKind::Timeout => "timeout",
            UnreachableKind::TooLarge => "too_large",
            UnreachableKind::Protocol => "protocol",
        }
    }
}

impl fmt::Display for UnreachableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnreachableKind::Unresolvable => "its name does not resolve",
            UnreachableKind::Connect => "no connection",
            UnreachableKind::Tls => "TLS handshake failed",
            UnreachableKind::Timeout => "timed out",
            UnreachableKind::TooLarge => "answer too large",
            UnreachableKind::Protocol => "not an ACME answer",
        })
    }
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

    /// A CA that could not be reached, logging what went wrong (the caller only gets `kind`).
    pub(crate) fn unreachable(url: &str, kind: UnreachableKind, detail: String) -> Self {
        tracing::warn!(url, failure = kind.code(), detail = %detail, "ACME server unreachable");
        Error::Unreachable {
            url: url.to_owned(),
            kind,
            detail,
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
            // `Other` is `#[error(transparent)]`: its `source()` skips the error it holds, so
            // the chain is read from that error.
            instant_acme::Error::Other(inner) => Self::from_transport(url, inner.as_ref()),
            other => Self::from_transport(url, &other),
        }
    }

    /// A failure below ACME: a refused destination, or a CA out of reach, by the first cause
    /// in the chain that tells which.
    fn from_transport(url: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        let detail = error_chain(err);
        if let Some(refused) = find::<Refused>(err) {
            if !refused.by_policy() {
                return Self::unreachable(url, UnreachableKind::Unresolvable, detail);
            }
            tracing::warn!(url, refusal = refused.refusal.code(), address = ?refused.address,
                detail = %detail, "ACME server refused by policy");
            return Error::Forbidden {
                url: url.to_owned(),
                refused: refused.clone(),
            };
        }
        let kind = if let Some(exceeded) = find::<Exceeded>(err) {
            match exceeded {
                Exceeded::Body => UnreachableKind::TooLarge,
                Exceeded::Headers(_) | Exceeded::Total(_) => UnreachableKind::Timeout,
            }
        } else if find::<rustls::Error>(err).is_some() {
            UnreachableKind::Tls
        } else if let Some(io) = find::<std::io::Error>(err) {
            if io.kind() == std::io::ErrorKind::TimedOut {
                UnreachableKind::Timeout
            } else {
                UnreachableKind::Connect
            }
        } else if find::<hyper_util::client::legacy::Error>(err).is_some_and(|e| e.is_connect()) {
            UnreachableKind::Connect
        } else {
            UnreachableKind::Protocol
        };
        Self::unreachable(url, kind, detail)
    }
}

/// The first error of type `T` in `err`'s chain, looking inside `io::Error`s too (their
/// `source` skips the error they wrap).
fn find<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(found) = find::<T>(inner)
        {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// An error with its sources, so "connection refused" or "invalid peer certificate: UnknownIssuer"
/// reaches the operator's log instead of a bare "HTTP request failure".
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
