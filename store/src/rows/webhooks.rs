//! Webhooks, their deliveries and the deliveries' attempts.

use scaivault_domain::Result;
use scaivault_domain::timestamp::from_millis;
use scaivault_domain::webhook::{DeliveryAttempt, DeliveryRecord, WebhookRecord};

use super::{from_json, stored};

/// `webhooks` without the sealed secret.
#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    id: String,
    url: String,
    events: String,
    created_at: i64,
}

impl WebhookRow {
    pub(crate) fn into_record(self) -> Result<WebhookRecord> {
        Ok(WebhookRecord {
            id: self.id,
            url: self.url,
            events: from_json("events", &self.events)?,
            created_at: from_millis(self.created_at),
        })
    }
}

/// `webhook_deliveries`.
#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    id: String,
    webhook_id: String,
    event_id: String,
    event_type: String,
    payload: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    last_status_code: Option<i64>,
    next_attempt_at: Option<i64>,
    delivered_at: Option<i64>,
    created_at: i64,
    redelivery_of: Option<String>,
}

impl DeliveryRow {
    /// The delivery without its attempts (see [`DeliveryAttemptRow`]).
    pub(crate) fn into_record(self) -> Result<DeliveryRecord> {
        Ok(DeliveryRecord {
            id: self.id,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            event_type: self.event_type,
            status: stored("status", &self.status)?,
            attempts: self.attempts,
            last_error: self.last_error,
            last_status_code: self.last_status_code,
            next_attempt_at: self.next_attempt_at.map(from_millis),
            delivered_at: self.delivered_at.map(from_millis),
            created_at: from_millis(self.created_at),
            attempt_log: Vec::new(),
            payload: self.payload,
            redelivery_of: self.redelivery_of,
        })
    }
}

/// `webhook_delivery_attempts`.
#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryAttemptRow {
    delivery_id: String,
    attempt: i64,
    at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

impl DeliveryAttemptRow {
    pub(crate) fn into_record(self) -> DeliveryAttempt {
        DeliveryAttempt {
            delivery_id: self.delivery_id,
            attempt: self.attempt,
            at: from_millis(self.at),
            status_code: self.status_code,
            error: self.error,
            duration_ms: self.duration_ms,
        }
    }
}
