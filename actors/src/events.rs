//! Events as the service records them: a typed payload per kind of event (API.md's list), so
//! every producer writes the same fields the same way, and the notifier that wakes the webhook
//! dispatcher as soon as one is recorded.
//!
//! Recording an event also writes its webhook deliveries, in the same transaction (the store's
//! `EventStore`); the notifier is only a wake-up, so the dispatcher queues them at once rather
//! than at its next sweep. A missed wake-up costs a sweep interval, never a delivery.

use std::sync::Arc;

use scaivault_domain::event::{Event, EventKind};
use scaivault_domain::order::{ChallengeType, OrderError};
use scaivault_domain::revocation::RevocationReason;
use scaivault_domain::store::EventStore;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::Notify;

/// Wakes whoever waits for recorded events (the webhook dispatcher).
#[derive(Clone, Debug, Default)]
pub struct EventNotifier(Arc<Notify>);

impl EventNotifier {
    /// Tells the waiter that events were recorded. One stored permit: a notice given while
    /// nobody waits wakes the next wait.
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next [`EventNotifier::notify`] (at once if one came since the last wait).
    pub async fn recorded(&self) {
        self.0.notified().await;
    }
}

/// The event log as its producers use it: records payloads and tells the notifier.
#[derive(Clone)]
pub struct Events {
    store: Arc<dyn EventStore>,
    notifier: EventNotifier,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}

impl Events {
    pub fn new(store: Arc<dyn EventStore>, notifier: EventNotifier) -> Self {
        Self { store, notifier }
    }

    /// The notifier, for events recorded inside another transaction (a revocation's).
    pub fn notifier(&self) -> &EventNotifier {
        &self.notifier
    }

    /// Appends an event to the log; a failure to record one is logged, never fatal to the work
    /// the event describes.
    pub async fn record(&self, payload: &impl Payload) {
        let event = payload.event();
        match self.store.insert_event(&event).await {
            Ok(()) => self.notifier.notify(),
            Err(err) => {
                tracing::error!(event = %event.kind, error = %err, "cannot record an event")
            }
        }
    }
}

/// An event's data: what happened, with what a consumer needs to act without another lookup.
pub trait Payload: Serialize {
    fn kind(&self) -> EventKind;

    /// The event, now.
    fn event(&self) -> Event {
        // A payload is plain data (strings, numbers, lists): it always serializes.
        let data = serde_json::to_value(self).unwrap_or_default();
        Event::new(self.kind(), data)
    }
}

/// `certificate.issued` (version 1) or `certificate.renewed` (a later version).
#[derive(Debug, Clone, Serialize)]
pub struct CertificateIssued {
    pub certificate_id: String,
    pub order_id: String,
    pub domains: Vec<String>,
    pub version: i64,
    /// `1A:2B:...`.
    pub serial_number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub renew_at: OffsetDateTime,
}

impl Payload for CertificateIssued {
    fn kind(&self) -> EventKind {
        if self.version == 1 {
            EventKind::CertificateIssued
        } else {
            EventKind::CertificateRenewed
        }
    }
}

/// `certificate.renewal_failed`: one failed attempt and when the next one is due.
#[derive(Debug, Clone, Serialize)]
pub struct RenewalFailed {
    pub certificate_id: String,
    pub version: i64,
    /// Failed attempts before this one (0 for the first).
    pub attempt: u32,
    pub reason: String,
    /// `None` once the renewal is given up.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Set when the renewal is held because the CA paused the account for some of the
    /// certificate's names: `next_attempt_at` is then the next daily probe, not a backoff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<RenewalPaused>,
}

/// Why a renewal is held: the CA's pause of the account for some of the certificate's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenewalPaused {
    pub account_id: String,
    pub identifiers: Vec<String>,
    /// The CA's self-service link that lifts the pause (with its JWT), when it gave one.
    pub unpause_url: Option<String>,
    /// When the CA first refused.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

impl Payload for RenewalFailed {
    fn kind(&self) -> EventKind {
        EventKind::CertificateRenewalFailed
    }
}

impl From<scaivault_domain::pause::PauseRefusal> for RenewalPaused {
    fn from(refusal: scaivault_domain::pause::PauseRefusal) -> Self {
        Self {
            account_id: refusal.account_id,
            identifiers: refusal.identifiers,
            unpause_url: refusal.unpause_url,
            since: refusal.since,
        }
    }
}

/// `certificate.expiring`: close to expiry, or its renewal overdue.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateExpiring {
    pub certificate_id: String,
    pub domains: Vec<String>,
    pub version: i64,
    pub serial_number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub renew_at: Option<OffsetDateTime>,
    pub auto_renew: bool,
    pub reason: String,
}

impl Payload for CertificateExpiring {
    fn kind(&self) -> EventKind {
        EventKind::CertificateExpiring
    }
}

/// `certificate.revoked`.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateRevoked {
    pub certificate_id: String,
    pub order_id: String,
    pub domains: Vec<String>,
    pub version: i64,
    pub serial_number: String,
    pub reason: RevocationReason,
    /// Whether the CA was told (RFC 8555 §7.6), or the mark is ScaiVault's own.
    pub via_acme: bool,
}

impl Payload for CertificateRevoked {
    fn kind(&self) -> EventKind {
        EventKind::CertificateRevoked
    }
}

/// `order.invalid`: which order, for which certificate (a renewal) and names, and why.
#[derive(Debug, Clone, Serialize)]
pub struct OrderInvalid {
    pub order_id: String,
    pub certificate_id: Option<String>,
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub error: Option<OrderError>,
}

impl Payload for OrderInvalid {
    fn kind(&self) -> EventKind {
        EventKind::OrderInvalid
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payloads_carry_their_kind_and_fields() {
        let at = scaivault_domain::timestamp::from_millis(1_800_000_000_000);
        let issued = CertificateIssued {
            certificate_id: "cert_1".into(),
            order_id: "acme_order_1".into(),
            domains: vec!["a.example.test".into()],
            version: 1,
            serial_number: "0A:BC".into(),
            not_after: at,
            renew_at: at,
        };
        assert_eq!(issued.kind(), EventKind::CertificateIssued);
        let renewed = CertificateIssued {
            version: 2,
            ..issued.clone()
        };
        let event = renewed.event();
        assert_eq!(event.kind, EventKind::CertificateRenewed);
        assert_eq!(
            event.data,
            json!({
                "certificate_id": "cert_1",
                "order_id": "acme_order_1",
                "domains": ["a.example.test"],
                "version": 2,
                "serial_number": "0A:BC",
                "not_after": "2027-01-15T08:00:00Z",
                "renew_at": "2027-01-15T08:00:00Z",
            })
        );

        let revoked = CertificateRevoked {
            certificate_id: "cert_1".into(),
            order_id: "acme_order_2".into(),
            domains: vec!["a.example.test".into()],
            version: 2,
            serial_number: "0A:BC".into(),
            reason: RevocationReason::Superseded,
            via_acme: true,
        }
        .event();
        assert_eq!(revoked.kind, EventKind::CertificateRevoked);
        assert_eq!(
            revoked.data,
            json!({
                "certificate_id": "cert_1",
                "order_id": "acme_order_2",
                "domains": ["a.example.test"],
                "version": 2,
                "serial_number": "0A:BC",
                "reason": "superseded",
                "via_acme": true,
            })
        );

        let failed = RenewalFailed {
            certificate_id: "cert_1".into(),
            version: 2,
            attempt: 0,
            reason: "CA down".into(),
            next_attempt_at: None,
            paused: None,
        }
        .event();
        assert_eq!(failed.kind, EventKind::CertificateRenewalFailed);
        assert_eq!(failed.data["next_attempt_at"], serde_json::Value::Null);
        assert!(failed.data.get("paused").is_none(), "only when held");

        let held = RenewalFailed {
            certificate_id: "cert_1".into(),
            version: 2,
            attempt: 0,
            reason: "paused".into(),
            next_attempt_at: Some(at),
            paused: Some(RenewalPaused {
                account_id: "acme_1".into(),
                identifiers: vec!["a.example.test".into()],
                unpause_url: Some("https://portal.example/unpause?jwt=a.b.c".into()),
                since: at,
            }),
        }
        .event();
        assert_eq!(
            held.data["paused"],
            json!({
                "account_id": "acme_1",
                "identifiers": ["a.example.test"],
                "unpause_url": "https://portal.example/unpause?jwt=a.b.c",
                "since": "2027-01-15T08:00:00Z",
            })
        );
    }

    #[tokio::test]
    async fn a_notice_given_while_nobody_waits_wakes_the_next_wait() {
        let notifier = EventNotifier::default();
        notifier.notify();
        tokio::time::timeout(std::time::Duration::from_secs(1), notifier.recorded())
            .await
            .expect("the stored permit wakes the wait");
    }
}
