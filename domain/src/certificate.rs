//! Managed certificates: one object per name set that keeps its versions, the newest being the
//! current one. Renewals add versions; revocation marks one.

use serde::Serialize;
use time::OffsetDateTime;

use crate::order::ChallengeType;
use crate::pki::KeyType;

/// A certificate's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateStatus {
    Valid,
    Revoked,
    Expired,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "valid",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "valid" => Ok(CertificateStatus::Valid),
            "revoked" => Ok(CertificateStatus::Revoked),
            "expired" => Ok(CertificateStatus::Expired),
            other => Err(crate::Error::corrupt(format!(
                "unknown certificate status {other:?}"
            ))),
        }
    }
}

/// A managed certificate: what to issue and renew, and where its current version stands.
#[derive(Debug, Clone)]
pub struct CertificateRecord {
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
    pub serial_number: String,
    pub not_after: OffsetDateTime,
    /// When the current version is due for renewal (see `renewal::renew_at`).
    pub renew_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One issued certificate of a managed certificate.
#[derive(Debug, Clone)]
pub struct CertificateVersion {
    pub certificate_id: String,
    pub version: i64,
    pub order_id: String,
    /// Upper-case hex, no colons, as stored and compared; the API shows it with colons
    /// (`pki::serial_with_colons`).
    pub serial_number: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The chain, leaf first.
    pub chain_pem: String,
    pub has_private_key: bool,
    pub status: CertificateStatus,
    /// When, why and how the version was revoked (`revoked_at`, `revocation_reason`,
    /// `revoked_via_acme`); `None` unless its status is `revoked`.
    pub revocation: Option<crate::revocation::VersionRevocation>,
    pub created_at: OffsetDateTime,
}

/// The associated data a version's private key is sealed with.
pub fn version_key_aad(certificate_id: &str, version: i64) -> String {
    format!("certificate_key:{certificate_id}:{version}")
}

/// Everything written when an order yields a certificate, in one transaction: the managed
/// certificate (new, or updated for a renewal), its new version, and the order marked valid.
#[derive(Debug, Clone)]
pub struct Issuance {
    pub order_id: String,
    pub certificate: CertificateRecord,
    pub version: CertificateVersion,
    pub sealed_key: Option<Vec<u8>>,
}
