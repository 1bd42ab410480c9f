//! Revocation: finding a version by serial and marking it revoked with everything that follows.

use async_trait::async_trait;

use crate::Result;
use crate::certificate::CertificateVersion;
use crate::revocation::Revocation;

#[async_trait]
pub trait RevocationStore: Send + Sync + std::fmt::Debug {
    /// The certificate version with this serial (as `pki::normalize_serial` spells it), with
    /// its revocation if it has one.
    async fn version_by_serial(&self, serial: &str) -> Result<Option<CertificateVersion>>;
    /// Marks a version revoked in one transaction: the version (when, why, whether the CA was
    /// told), the order that produced it, the managed certificate when the version is its
    /// current one, and the `certificate.revoked` event with its webhook deliveries. Returns
    /// whether the managed certificate became revoked. `Error::Conflict` (saying when) if the
    /// version is already revoked, then nothing is written; `Error::NotFound` if there is no
    /// such version.
    async fn record_revocation(&self, revocation: &Revocation) -> Result<bool>;
}
