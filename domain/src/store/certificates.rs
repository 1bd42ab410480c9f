//! Managed certificates, their versions and renewal plans.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::certificate::{CertificateRecord, CertificateVersion, Issuance};
use crate::metrics::CertificateExpiry;

/// A valid, automatically renewed certificate and when its current version is due for renewal:
/// what the renewal scheduler needs to give it a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalCandidate {
    pub certificate_id: String,
    pub version: i64,
    pub renew_at: OffsetDateTime,
}

#[async_trait]
pub trait CertificateStore: Send + Sync + std::fmt::Debug {
    /// Writes an issuance atomically: certificate (inserted, or updated to the new version),
    /// the version, and the order marked valid. `Error::Conflict` if the order already has one.
    async fn record_issuance(&self, issuance: &Issuance) -> Result<()>;
    /// The managed certificate with this id.
    async fn get_certificate(&self, id: &str) -> Result<Option<CertificateRecord>>;
    /// A page of certificates, newest first; `before` is a `(created_at millis, id)` cursor.
    async fn list_certificates(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<CertificateRecord>>;
    /// Valid certificates not yet reported for their current version that expire before
    /// `expires_before` or were due for renewal before `overdue_before`.
    async fn expiring_certificates(
        &self,
        expires_before: OffsetDateTime,
        overdue_before: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>>;
    /// Records that `certificate.expiring` was sent for `version`.
    async fn mark_expiring_notified(&self, id: &str, version: i64) -> Result<()>;
    /// Up to `limit` valid, automatically renewed certificates that have a renewal time, with an
    /// id after `after`, by id: one index range per page, however many certificates there are.
    async fn renewal_candidates(&self, after: &str, limit: u32) -> Result<Vec<RenewalCandidate>>;
    /// Sets the renewal time of `version` of the certificate (if still current) and the CA's
    /// suggested window it was chosen in (RFC 9773), `None` without ARI. `false` if the
    /// certificate has moved on to another version.
    async fn set_renewal_plan(
        &self,
        id: &str,
        version: i64,
        renew_at: OffsetDateTime,
        window: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<bool>;
    /// The ARI window the current `renew_at` was chosen in, if any.
    async fn renewal_window(&self, id: &str) -> Result<Option<(OffsetDateTime, OffsetDateTime)>>;
    /// A certificate's versions, newest first.
    async fn certificate_versions(&self, id: &str) -> Result<Vec<CertificateVersion>>;
    /// The sealed private key of one version.
    async fn version_key(&self, id: &str, version: i64) -> Result<Option<Vec<u8>>>;
    /// The expiry of every `valid` managed certificate, by id, in one statement (`GET /metrics`).
    async fn certificate_expiries(&self) -> Result<Vec<CertificateExpiry>>;
}
