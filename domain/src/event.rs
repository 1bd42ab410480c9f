//! Events: what happened, as API.md names it, with data naming the certificate, order,
//! domains, version, serial and reasons — so a consumer can act without another lookup. The
//! payloads themselves are built by whoever records the event (the actors crate's `events`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{Error, Result, ids, timestamp};

/// The event types of API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    #[serde(rename = "certificate.issued")]
    CertificateIssued,
    #[serde(rename = "certificate.renewed")]
    CertificateRenewed,
    #[serde(rename = "certificate.renewal_failed")]
    CertificateRenewalFailed,
    #[serde(rename = "certificate.expiring")]
    CertificateExpiring,
    #[serde(rename = "certificate.revoked")]
    CertificateRevoked,
    #[serde(rename = "order.invalid")]
    OrderInvalid,
}

impl EventKind {
    /// Every type, in API.md's order.
    pub const ALL: [EventKind; 6] = [
        EventKind::CertificateIssued,
        EventKind::CertificateRenewed,
        EventKind::CertificateRenewalFailed,
        EventKind::CertificateExpiring,
        EventKind::CertificateRevoked,
        EventKind::OrderInvalid,
    ];

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CertificateIssued => "certificate.issued",
            EventKind::CertificateRenewed => "certificate.renewed",
            EventKind::CertificateRenewalFailed => "certificate.renewal_failed",
            EventKind::CertificateExpiring => "certificate.expiring",
            EventKind::CertificateRevoked => "certificate.revoked",
            EventKind::OrderInvalid => "order.invalid",
        }
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = Error;

    /// A `type` filter or subscription: one of [`EventKind::ALL`].
    fn from_str(kind: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|known| known.as_str() == kind)
            .ok_or_else(|| {
                Error::invalid(
                    "type",
                    format!("unknown event type {kind:?}; known: {}", Self::names()),
                )
            })
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub data: Value,
}

impl Event {
    /// A new event of `kind` with `data`, now.
    pub fn new(kind: EventKind, data: Value) -> Self {
        Self {
            id: ids::new_id("evt"),
            kind,
            created_at: timestamp::now(),
            data,
        }
    }
}

/// A page of events, oldest first (a log is read forwards).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub kind: Option<EventKind>,
    /// Only events strictly after this `(created_at millis, id)` position.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_refused() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        match "certificate.exploded".parse::<EventKind>() {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, "type");
                assert!(message.contains("order.invalid"), "{message}");
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }
}
