//! What one revocation writes.

use super::{RevocationReason, VersionRevocation};
use crate::certificate::{CertificateRecord, CertificateVersion};
use crate::event::{Event, EventKind};

/// Everything written when a version is revoked, in one transaction (see
/// `Store::record_revocation`).
#[derive(Debug, Clone)]
pub struct Revocation {
    pub certificate_id: String,
    pub version: i64,
    pub order_id: String,
    pub serial_number: String,
    pub revocation: VersionRevocation,
    /// `certificate.revoked`, inserted with the marks so it fires exactly when they are made.
    pub event: Event,
}

impl Revocation {
    /// The revocation of `version` of `certificate`, with its `certificate.revoked` event; the
    /// mark carries the event's time, so both say the same instant (already whole
    /// milliseconds, as stored).
    pub fn new(
        certificate: &CertificateRecord,
        version: &CertificateVersion,
        reason: RevocationReason,
        via_acme: bool,
        event: Event,
    ) -> Self {
        debug_assert_eq!(event.kind, EventKind::CertificateRevoked);
        let at = event.created_at;
        Self {
            certificate_id: certificate.id.clone(),
            version: version.version,
            order_id: version.order_id.clone(),
            serial_number: version.serial_number.clone(),
            revocation: VersionRevocation {
                at,
                reason,
                via_acme,
            },
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::timestamp;

    #[test]
    fn revocation_carries_its_event_and_its_time() {
        let at = timestamp::now();
        let certificate = CertificateRecord {
            id: "cert_1".into(),
            account_id: "acme_1".into(),
            domains: vec!["a.example.test".into()],
            challenge_type: crate::order::ChallengeType::Http01,
            key_type: crate::pki::KeyType::EcdsaP256,
            dns_provider_id: None,
            profile: None,
            auto_renew: true,
            own_csr: false,
            current_version: 2,
            status: crate::certificate::CertificateStatus::Valid,
            serial_number: "ABC".into(),
            not_after: at,
            renew_at: None,
            created_at: at,
            updated_at: at,
        };
        let version = CertificateVersion {
            certificate_id: "cert_1".into(),
            version: 2,
            order_id: "acme_order_2".into(),
            serial_number: "ABC".into(),
            issuer: "CN=Test".into(),
            sans: vec!["a.example.test".into()],
            not_before: at,
            not_after: at,
            chain_pem: String::new(),
            has_private_key: true,
            status: crate::certificate::CertificateStatus::Valid,
            revocation: None,
            created_at: at,
        };
        let event = Event::new(
            EventKind::CertificateRevoked,
            json!({"certificate_id": "cert_1"}),
        );
        let revocation = Revocation::new(
            &certificate,
            &version,
            RevocationReason::Superseded,
            true,
            event.clone(),
        );
        assert_eq!(revocation.event, event);
        assert_eq!(revocation.revocation.at, event.created_at);
        assert_eq!(
            (revocation.version, revocation.order_id.as_str()),
            (2, "acme_order_2")
        );
        assert!(
            revocation
                .revocation
                .describe()
                .contains("(superseded, at the CA)")
        );
    }
}
