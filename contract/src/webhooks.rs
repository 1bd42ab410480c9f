//! `/v1/webhooks` and their deliveries.

use scaivault_domain::webhook::{DeliveryAttempt as AttemptRecord, DeliveryRecord, WebhookRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::DeliveryStatus;

/// `POST /v1/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// http or https; a public address unless `[webhooks] allow_private_targets`.
    pub url: String,
    /// Event types, or `["*"]` for all.
    pub events: Vec<String>,
    /// The HMAC key for `X-ScaiVault-Signature`; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A webhook: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// Event types, or `["*"]` for all.
    pub events: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Always `true`: every webhook signs its deliveries.
    pub secret_set: bool,
}

impl From<&WebhookRecord> for Webhook {
    fn from(record: &WebhookRecord) -> Self {
        Self {
            id: record.id.clone(),
            url: record.url.clone(),
            events: record.events.clone(),
            created_at: record.created_at,
            secret_set: true,
        }
    }
}

/// A new webhook with, only this once, its signing secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub record: Webhook,
    /// The HMAC-SHA256 key of `X-ScaiVault-Signature`. Shown only here.
    pub secret: String,
}

/// A page of webhooks, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One event's delivery to one webhook, with every attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
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
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
    /// The delivery this one repeats (`POST .../redeliver`); absent on an event's own
    /// delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivery_of: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why the attempt failed; `null` when it succeeded.
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<&AttemptRecord> for DeliveryAttempt {
    fn from(record: &AttemptRecord) -> Self {
        Self {
            attempt: record.attempt,
            at: record.at,
            status_code: record.status_code,
            error: record.error.clone(),
            duration_ms: record.duration_ms,
        }
    }
}

impl From<&DeliveryRecord> for Delivery {
    fn from(record: &DeliveryRecord) -> Self {
        Self {
            id: record.id.clone(),
            webhook_id: record.webhook_id.clone(),
            event_id: record.event_id.clone(),
            event_type: record.event_type.clone(),
            status: record.status.into(),
            attempts: record.attempts,
            last_error: record.last_error.clone(),
            last_status_code: record.last_status_code,
            next_attempt_at: record.next_attempt_at,
            delivered_at: record.delivered_at,
            created_at: record.created_at,
            attempt_log: record
                .attempt_log
                .iter()
                .map(DeliveryAttempt::from)
                .collect(),
            redelivery_of: record.redelivery_of.clone(),
        }
    }
}

/// A page of a webhook's deliveries, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
