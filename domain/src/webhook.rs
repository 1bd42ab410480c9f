//! Webhooks: subscriptions to event types, and the deliveries of each event to each subscribed
//! webhook with their attempts.
//!
//! A webhook's secret signs every delivery (`X-ScaiVault-Signature: sha256=<hex HMAC-SHA256 of
//! the body>`). It is sealed at rest with the webhook's id as associated data and shown once, in
//! the answer that creates the webhook. Deliveries are written in the same store transaction as
//! their event, so an event recorded is an event delivered (or given up on), even across
//! crashes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;

use crate::event::EventKind;
use crate::{Error, Result, ids};

/// Subscribes to every event type, present and future.
pub const ALL_EVENTS: &str = "*";
/// Prefix of webhook ids.
pub const ID_PREFIX: &str = "whk";
/// Prefix of delivery ids.
pub const DELIVERY_ID_PREFIX: &str = "whd";
/// Bounds of a caller-chosen secret, in bytes.
pub const SECRET_MIN: usize = 16;
pub const SECRET_MAX: usize = 256;

/// A webhook subscription. The secret is not part of it: it is stored sealed beside it and never
/// read back through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    /// Event types, or `["*"]` for all.
    pub events: Vec<String>,
    pub created_at: OffsetDateTime,
}

impl WebhookRecord {
    /// Whether events of type `kind` are delivered to this webhook.
    pub fn subscribes_to(&self, kind: EventKind) -> bool {
        subscribes(&self.events, kind)
    }
}

/// Whether a subscription list covers `kind`.
pub fn subscribes(events: &[String], kind: EventKind) -> bool {
    events.iter().any(|e| e == ALL_EVENTS || e == kind.as_str())
}

/// The associated data a webhook's sealed secret carries: its record id.
pub fn secret_aad(webhook_id: &str) -> String {
    format!("webhook_secret:{webhook_id}")
}

/// Checks and normalises a subscription list: at least one entry, each a known event type or
/// `"*"`; duplicates dropped, and a list with `"*"` is just `["*"]`.
pub fn validate_events(events: &[String]) -> Result<Vec<String>> {
    if events.is_empty() {
        return Err(Error::invalid(
            "events",
            format!(
                "give at least one event type ({}), or \"*\" for all",
                EventKind::names()
            ),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (index, kind) in events.iter().enumerate() {
        if kind != ALL_EVENTS && kind.parse::<EventKind>().is_err() {
            return Err(Error::invalid(
                format!("events[{index}]"),
                format!(
                    "unknown event type {kind:?}; known: {}, or \"*\" for all",
                    EventKind::names()
                ),
            ));
        }
        if !out.contains(kind) {
            out.push(kind.clone());
        }
    }
    if out.iter().any(|e| e == ALL_EVENTS) {
        return Ok(vec![ALL_EVENTS.to_owned()]);
    }
    Ok(out)
}

/// Checks a caller-chosen secret: 16 to 256 bytes of printable ASCII without spaces (it travels
/// in configuration files and environment variables on the receiving side).
pub fn validate_secret(secret: &str) -> Result<()> {
    if !(SECRET_MIN..=SECRET_MAX).contains(&secret.len()) {
        return Err(Error::invalid(
            "secret",
            format!(
                "{SECRET_MIN} to {SECRET_MAX} characters (or leave it out to get a generated one)"
            ),
        ));
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            "secret",
            "printable ASCII characters without spaces",
        ));
    }
    Ok(())
}

/// A fresh secret: `whsec_` and 32 random bytes in hex. The HMAC key is the whole string.
pub fn generate_secret() -> String {
    format!("whsec_{}", hex::encode(ids::random_bytes(32)))
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet accepted by the receiver; an attempt is queued.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; given up.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryStatus {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(Error::invalid(
                "status",
                format!("unknown delivery status {other:?}"),
            )),
        }
    }
}

/// One event for one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// Why the last attempt failed (an HTTP status, a timeout, a refused target).
    pub last_error: Option<String>,
    /// The receiver's HTTP status at the last attempt that got an answer.
    pub last_status_code: Option<i64>,
    /// When the next attempt is due, while pending after a failure.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
    /// The exact body POSTed at every attempt: the event as JSON.
    pub payload: String,
    /// The delivery this one repeats (an operator's redelivery); `None` for the delivery the
    /// event itself fanned out to.
    pub redelivery_of: Option<String>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub delivery_id: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub at: OffsetDateTime,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why the attempt failed; `None` when it succeeded.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A new delivery id.
pub fn new_delivery_id() -> String {
    ids::new_id(DELIVERY_ID_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn events_are_checked_and_normalised() {
        assert_eq!(
            validate_events(&list(&["certificate.issued", "certificate.issued"])).expect("ok"),
            list(&["certificate.issued"])
        );
        assert_eq!(
            validate_events(&list(&["order.invalid", "*"])).expect("ok"),
            list(&["*"])
        );
        let err = validate_events(&list(&["order.invalid", "certificate.exploded"]))
            .expect_err("unknown");
        assert!(err.to_string().contains("events[1]"), "{err}");
        assert!(validate_events(&[]).is_err());
    }

    #[test]
    fn subscriptions_match() {
        assert!(subscribes(&list(&["*"]), EventKind::OrderInvalid));
        assert!(subscribes(
            &list(&["order.invalid"]),
            EventKind::OrderInvalid
        ));
        assert!(!subscribes(
            &list(&["certificate.issued"]),
            EventKind::OrderInvalid
        ));
    }

    #[test]
    fn secrets() {
        let generated = generate_secret();
        assert!(validate_secret(&generated).is_ok());
        assert_ne!(generated, generate_secret());
        assert!(validate_secret("short").is_err());
        assert!(validate_secret("sixteen chars with space").is_err());
        assert!(validate_secret(&"x".repeat(257)).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(
                status.as_str().parse::<DeliveryStatus>().expect("parse"),
                status
            );
        }
    }
}
