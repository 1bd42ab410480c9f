//! The expiry scan's work: certificates close to expiry, or whose renewal is overdue, are
//! reported once per version.

use std::time::Duration;

use scaivault_domain::{pki, timestamp};

use super::service::RenewalService;
use crate::Error;
use crate::events::CertificateExpiring;

impl RenewalService {
    /// Reports certificates close to expiry (within `within` of `not_after`) or whose renewal is
    /// overdue (past `renew_at` by more than `grace` without a new version) with a
    /// `certificate.expiring` event, once per version. Returns how many were reported.
    pub async fn report_expiring(&self, within: Duration, grace: Duration) -> Result<usize, Error> {
        let ctx = self.orders.context();
        let now = timestamp::now();
        let expires_before = now + time::Duration::try_from(within).unwrap_or(time::Duration::MAX);
        let overdue_before = now - time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO);
        let certificates = ctx
            .store
            .expiring_certificates(expires_before, overdue_before)
            .await?;
        for certificate in &certificates {
            let reason = if certificate.not_after <= expires_before {
                format!(
                    "expires at {}, within {}",
                    timestamp::rfc3339(certificate.not_after),
                    humanize(within)
                )
            } else {
                format!(
                    "renewal overdue since {} without a new version",
                    certificate
                        .renew_at
                        .map(timestamp::rfc3339)
                        .unwrap_or_default()
                )
            };
            tracing::warn!(certificate = %certificate.id, reason = %reason, "certificate expiring");
            ctx.events
                .record(&CertificateExpiring {
                    certificate_id: certificate.id.clone(),
                    domains: certificate.domains.clone(),
                    version: certificate.current_version,
                    serial_number: pki::serial_with_colons(&certificate.serial_number),
                    not_after: certificate.not_after,
                    renew_at: certificate.renew_at,
                    auto_renew: certificate.auto_renew,
                    reason,
                })
                .await;
            ctx.store
                .mark_expiring_notified(&certificate.id, certificate.current_version)
                .await?;
        }
        Ok(certificates.len())
    }
}

/// `1209600s` as `14d`, for messages.
fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format!("{secs}s")
    }
}
