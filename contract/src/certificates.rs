//! `/v1/pki/certificates` and `POST /v1/pki/revoke`. Serial numbers are written as the guide
//! shows them, upper-case hex pairs with colons (`1A:2B:..`), everywhere.

use scaivault_domain::certificate::{CertificateRecord, CertificateVersion as VersionRecord};
use scaivault_domain::pki::serial_with_colons;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::{CertificateStatus, ChallengeType, KeyType, RevocationReason};

/// A managed certificate: the current version's facts, and how it is renewed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Certificate {
    pub id: String,
    pub account_id: String,
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub key_type: KeyType,
    pub dns_provider_id: Option<String>,
    pub profile: Option<String>,
    pub auto_renew: bool,
    /// Whether the caller supplied the CSR (then no private key is held).
    pub own_csr: bool,
    pub current_version: i64,
    pub status: CertificateStatus,
    /// The current version's, as `1A:2B:..`.
    pub serial_number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// When the current version is due for renewal (the CA's ARI window when it offers one).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub renew_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&CertificateRecord> for Certificate {
    fn from(record: &CertificateRecord) -> Self {
        Self {
            id: record.id.clone(),
            account_id: record.account_id.clone(),
            domains: record.domains.clone(),
            challenge_type: record.challenge_type.into(),
            key_type: record.key_type.into(),
            dns_provider_id: record.dns_provider_id.clone(),
            profile: record.profile.clone(),
            auto_renew: record.auto_renew,
            own_csr: record.own_csr,
            current_version: record.current_version,
            status: record.status.into(),
            serial_number: serial_with_colons(&record.serial_number),
            not_after: record.not_after,
            renew_at: record.renew_at,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// One issued version of a managed certificate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateVersion {
    /// 1 for the first issuance, one more per renewal.
    pub version: i64,
    pub order_id: String,
    /// As `1A:2B:..`.
    pub serial_number: String,
    pub issuer: String,
    pub sans: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub has_private_key: bool,
    pub status: CertificateStatus,
    /// When it was revoked; only on a revoked version.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    /// Only on a revoked version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
    /// Whether the CA was told (RFC 8555 §7.6); only on a revoked version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_via_acme: Option<bool>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&VersionRecord> for CertificateVersion {
    fn from(record: &VersionRecord) -> Self {
        let revocation = record.revocation.as_ref();
        Self {
            version: record.version,
            order_id: record.order_id.clone(),
            serial_number: serial_with_colons(&record.serial_number),
            issuer: record.issuer.clone(),
            sans: record.sans.clone(),
            not_before: record.not_before,
            not_after: record.not_after,
            has_private_key: record.has_private_key,
            status: record.status.into(),
            revoked_at: revocation.map(|r| r.at),
            revocation_reason: revocation.map(|r| r.reason.into()),
            revoked_via_acme: revocation.map(|r| r.via_acme),
            created_at: record.created_at,
        }
    }
}

/// A managed certificate with every version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateDetail {
    #[serde(flatten)]
    pub certificate: Certificate,
    pub versions: Vec<CertificateVersion>,
}

/// A page of managed certificates, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateList {
    pub certificates: Vec<Certificate>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `POST /v1/pki/revoke`. Fields are optional here so that a missing one is reported by name
/// (`details.field`) by the domain's validation rather than as a shapeless body error.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// `1A:2B:..` or plain hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// `unspecified` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RevocationReason>,
    /// Tell the CA (RFC 8555 §7.6) before marking it here; false when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_acme: Option<bool>,
}

/// The outcome of `POST /v1/pki/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// As `1A:2B:..`.
    pub serial_number: String,
    pub certificate_id: String,
    pub version: i64,
    pub order_id: String,
    /// Always `revoked`.
    pub status: String,
    pub reason: RevocationReason,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// Whether the CA was told (RFC 8555 §7.6).
    pub via_acme: bool,
    /// Whether the managed certificate itself is now revoked (its current version was).
    pub certificate_revoked: bool,
}
