//! ACME problem documents (RFC 8555 §6.7, RFC 7807) with their type as one enum, so the code that
//! decides what a problem means matches on [`ProblemKind`] rather than on type strings.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// The namespace of the ACME error types (RFC 8555 §6.7).
const PREFIX: &str = "urn:ietf:params:acme:error:";

/// A problem's `type`: the error types of RFC 8555 §6.7 and RFC 9773 §5 (`alreadyReplaced`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    AccountDoesNotExist,
    AlreadyReplaced,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadPublicKey,
    BadRevocationReason,
    BadSignatureAlgorithm,
    Caa,
    Compound,
    Connection,
    Dns,
    ExternalAccountRequired,
    IncorrectResponse,
    InvalidContact,
    Malformed,
    OrderNotReady,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Tls,
    Unauthorized,
    UnsupportedContact,
    UnsupportedIdentifier,
    UserActionRequired,
    /// A type this service does not know, kept as the CA sent it.
    Other(String),
    /// The CA sent no type.
    Untyped,
}

impl ProblemKind {
    /// The kind of a problem document's `type`.
    pub fn from_type(kind: Option<&str>) -> Self {
        let Some(kind) = kind else {
            return ProblemKind::Untyped;
        };
        let known = kind.strip_prefix(PREFIX).and_then(|name| {
            Some(match name {
                "accountDoesNotExist" => ProblemKind::AccountDoesNotExist,
                "alreadyReplaced" => ProblemKind::AlreadyReplaced,
                "alreadyRevoked" => ProblemKind::AlreadyRevoked,
                "badCSR" => ProblemKind::BadCsr,
                "badNonce" => ProblemKind::BadNonce,
                "badPublicKey" => ProblemKind::BadPublicKey,
                "badRevocationReason" => ProblemKind::BadRevocationReason,
                "badSignatureAlgorithm" => ProblemKind::BadSignatureAlgorithm,
                "caa" => ProblemKind::Caa,
                "compound" => ProblemKind::Compound,
                "connection" => ProblemKind::Connection,
                "dns" => ProblemKind::Dns,
                "externalAccountRequired" => ProblemKind::ExternalAccountRequired,
                "incorrectResponse" => ProblemKind::IncorrectResponse,
                "invalidContact" => ProblemKind::InvalidContact,
                "malformed" => ProblemKind::Malformed,
                "orderNotReady" => ProblemKind::OrderNotReady,
                "rateLimited" => ProblemKind::RateLimited,
                "rejectedIdentifier" => ProblemKind::RejectedIdentifier,
                "serverInternal" => ProblemKind::ServerInternal,
                "tls" => ProblemKind::Tls,
                "unauthorized" => ProblemKind::Unauthorized,
                "unsupportedContact" => ProblemKind::UnsupportedContact,
                "unsupportedIdentifier" => ProblemKind::UnsupportedIdentifier,
                "userActionRequired" => ProblemKind::UserActionRequired,
                _ => return None,
            })
        });
        known.unwrap_or_else(|| ProblemKind::Other(kind.to_owned()))
    }

    /// The short name (`rateLimited`), as order errors and messages show it; for an unknown
    /// type the part after the ACME namespace, or the whole type.
    pub fn name(&self) -> &str {
        match self {
            ProblemKind::AccountDoesNotExist => "accountDoesNotExist",
            ProblemKind::AlreadyReplaced => "alreadyReplaced",
            ProblemKind::AlreadyRevoked => "alreadyRevoked",
            ProblemKind::BadCsr => "badCSR",
            ProblemKind::BadNonce => "badNonce",
            ProblemKind::BadPublicKey => "badPublicKey",
            ProblemKind::BadRevocationReason => "badRevocationReason",
            ProblemKind::BadSignatureAlgorithm => "badSignatureAlgorithm",
            ProblemKind::Caa => "caa",
            ProblemKind::Compound => "compound",
            ProblemKind::Connection => "connection",
            ProblemKind::Dns => "dns",
            ProblemKind::ExternalAccountRequired => "externalAccountRequired",
            ProblemKind::IncorrectResponse => "incorrectResponse",
            ProblemKind::InvalidContact => "invalidContact",
            ProblemKind::Malformed => "malformed",
            ProblemKind::OrderNotReady => "orderNotReady",
            ProblemKind::RateLimited => "rateLimited",
            ProblemKind::RejectedIdentifier => "rejectedIdentifier",
            ProblemKind::ServerInternal => "serverInternal",
            ProblemKind::Tls => "tls",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::UnsupportedContact => "unsupportedContact",
            ProblemKind::UnsupportedIdentifier => "unsupportedIdentifier",
            ProblemKind::UserActionRequired => "userActionRequired",
            ProblemKind::Other(kind) => kind.strip_prefix(PREFIX).unwrap_or(kind),
            ProblemKind::Untyped => "",
        }
    }

    /// The `type` as a problem document carries it.
    pub fn urn(&self) -> Option<String> {
        match self {
            ProblemKind::Other(kind) => Some(kind.clone()),
            ProblemKind::Untyped => None,
            known => Some(format!("{PREFIX}{}", known.name())),
        }
    }

    /// Whether retrying the same request later may succeed: the CA failed, was busy, or asked
    /// us to slow down. Anything else is the CA's decision about this request.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProblemKind::ServerInternal | ProblemKind::BadNonce | ProblemKind::RateLimited
        )
    }
}

/// A problem document from an ACME server (RFC 8555 §6.7, RFC 7807), serialized as the CA sent
/// it (`type`, `detail`, `status`).
#[derive(Debug, Clone, Serialize)]
pub struct AcmeProblem {
    #[serde(rename = "type", serialize_with = "serialize_kind")]
    pub kind: ProblemKind,
    pub detail: Option<String>,
    pub status: Option<u16>,
    /// The server's `Retry-After` with the problem (RFC 8555 §6.6), when it sent one.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl AcmeProblem {
    /// The detail, or the short type name when the CA gave none.
    pub fn detail_or_kind(&self) -> String {
        self.detail
            .clone()
            .unwrap_or_else(|| self.kind.name().to_owned())
    }
}

fn serialize_kind<S: Serializer>(kind: &ProblemKind, serializer: S) -> Result<S::Ok, S::Error> {
    kind.urn().serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_unknown_ones_are_kept() {
        for name in ["rateLimited", "badCSR", "alreadyReplaced", "connection"] {
            let urn = format!("{PREFIX}{name}");
            let kind = ProblemKind::from_type(Some(&urn));
            assert!(!matches!(kind, ProblemKind::Other(_)), "{name}");
            assert_eq!(kind.name(), name);
            assert_eq!(kind.urn(), Some(urn));
        }
        let odd = ProblemKind::from_type(Some("urn:example:vendorThing"));
        assert_eq!(odd, ProblemKind::Other("urn:example:vendorThing".into()));
        assert_eq!(odd.urn().as_deref(), Some("urn:example:vendorThing"));
        let unsupported = ProblemKind::from_type(Some("urn:ietf:params:acme:error:fancyNew"));
        assert_eq!(unsupported.name(), "fancyNew");
        assert_eq!(ProblemKind::from_type(None), ProblemKind::Untyped);
        assert!(ProblemKind::RateLimited.is_transient());
        assert!(!ProblemKind::RejectedIdentifier.is_transient());
    }

    #[test]
    fn problems_serialize_as_the_ca_sent_them() {
        let problem = AcmeProblem {
            kind: ProblemKind::RateLimited,
            detail: Some("slow down".into()),
            status: Some(429),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            serde_json::to_value(&problem).unwrap(),
            serde_json::json!({
                "type": "urn:ietf:params:acme:error:rateLimited",
                "detail": "slow down",
                "status": 429,
            })
        );
        let untyped = AcmeProblem {
            kind: ProblemKind::Untyped,
            detail: None,
            status: None,
            retry_after: None,
        };
        assert_eq!(
            serde_json::to_value(&untyped).unwrap()["type"],
            serde_json::Value::Null
        );
    }
}
