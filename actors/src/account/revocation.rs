//! Revocation as the edge asks for it (`POST /v1/pki/revoke`): find the version by serial, tell
//! the CA through the account that ordered it when asked to (RFC 8555 §7.6), then mark it here.
//!
//! The order of the two steps is the point. The CA is asked first, so a refusal (`unauthorized`,
//! `alreadyRevoked`, the CA unreachable) leaves nothing marked here. The marks (version, order,
//! managed certificate, `certificate.revoked` event) are then one store transaction, so a crash
//! after the CA said yes loses at most the local mark, never half of it; a repeated request then
//! meets the CA's `alreadyRevoked`, whose error says how to record the mark without the CA.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use scaivault_domain::account::AccountStatus;
use scaivault_domain::certificate::CertificateVersion;
use scaivault_domain::pki::serial_with_colons;
use scaivault_domain::revocation::{Revocation, RevokeRequest};
use scaivault_domain::{Error as DomainError, Result as DomainResult};

use super::actor::RevokeAtCa;
use super::handle::Accounts;
use crate::Error;
use crate::events::{CertificateRevoked, Payload};

/// A revocation that was recorded.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// What was written (the version, when, why, whether the CA was told, the event).
    pub revocation: Revocation,
    /// Whether the version was the managed certificate's current one, so the certificate
    /// itself is now `revoked` and no longer renewed automatically.
    pub certificate_revoked: bool,
}

impl Accounts {
    /// Revokes the certificate version with `request.serial`: at the CA first when
    /// `request.use_acme`, then here, in one transaction.
    ///
    /// Errors: `NotFound` for a serial this service did not issue (there is nothing to mark, and
    /// no account of ours could sign for it); `Conflict` when the version is already revoked here
    /// (saying when) or its account is no longer active; the CA's problem as `Error::Acme`
    /// (e.g. `alreadyRevoked`, `unauthorized`), with nothing marked.
    pub async fn revoke(&self, request: &RevokeRequest) -> Result<Revoked, Error> {
        let store = &self.store;
        let colons = serial_with_colons(&request.serial);
        let version = store
            .version_by_serial(&request.serial)
            .await?
            .ok_or_else(|| DomainError::not_found("certificate with serial", colons.clone()))?;
        if let Some(earlier) = &version.revocation {
            return Err(DomainError::Conflict(format!(
                "certificate {} version {} (serial {colons}) was already revoked {}",
                version.certificate_id,
                version.version,
                earlier.describe()
            ))
            .into());
        }
        let certificate = store
            .get_certificate(&version.certificate_id)
            .await?
            .ok_or_else(|| {
                DomainError::corrupt(format!(
                    "version {} of certificate {} has no certificate",
                    version.version, version.certificate_id
                ))
            })?;
        if request.use_acme {
            // The account that placed the order signs: RFC 8555 §7.6 lets the account that
            // holds the certificate revoke it. (Renewals use the certificate's account, so this
            // is the certificate's account unless the order is gone.)
            let account_id = match store.get_order(&version.order_id).await? {
                Some(order) => order.account_id,
                None => certificate.account_id.clone(),
            };
            let account = store.require_account(&account_id).await?;
            if account.status != AccountStatus::Active {
                return Err(DomainError::Conflict(format!(
                    "certificate {} (serial {colons}) was ordered through account {}, which is {}: \
                     the CA takes revocations from that account's key; revoke with use_acme false \
                     to mark it revoked here only",
                    certificate.id,
                    account.id,
                    account.status.as_str()
                ))
                .into());
            }
            let certificate_der = leaf_der(&version)?;
            self.revoke_at_ca(
                &account.id,
                RevokeAtCa {
                    certificate_der,
                    reason: request.reason,
                },
            )
            .await?;
            self.faults.after_ca_revocation();
        }
        let event = CertificateRevoked {
            certificate_id: certificate.id.clone(),
            order_id: version.order_id.clone(),
            domains: certificate.domains.clone(),
            version: version.version,
            serial_number: colons.clone(),
            reason: request.reason,
            via_acme: request.use_acme,
        }
        .event();
        let revocation = Revocation::new(
            &certificate,
            &version,
            request.reason,
            request.use_acme,
            event,
        );
        let certificate_revoked = store.record_revocation(&revocation).await?;
        // certificate.revoked was recorded with the marks: its webhook deliveries are waiting.
        self.events.notifier().notify();
        tracing::info!(certificate = %certificate.id, version = version.version, serial = %colons,
            reason = %request.reason, via_acme = request.use_acme, certificate_revoked,
            "certificate revoked");
        Ok(Revoked {
            revocation,
            certificate_revoked,
        })
    }
}

/// The leaf of a stored chain (leaf first), as DER for `revokeCert`.
fn leaf_der(version: &CertificateVersion) -> DomainResult<Vec<u8>> {
    CertificateDer::from_pem_slice(version.chain_pem.as_bytes())
        .map(|der| der.as_ref().to_vec())
        .map_err(|err| {
            DomainError::corrupt(format!(
                "certificate {} version {}: stored chain unreadable: {err}",
                version.certificate_id, version.version
            ))
        })
}
