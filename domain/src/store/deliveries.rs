//! Webhook deliveries and their attempts.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::webhook::{DeliveryAttempt, DeliveryRecord, DeliveryStatus};

#[async_trait]
pub trait DeliveryStore: Send + Sync + std::fmt::Debug {
    /// The delivery with this id, with its attempts.
    async fn get_webhook_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>>;
    /// A page of a webhook's deliveries with their attempts, newest first; `before` is a
    /// `(created_at millis, id)` cursor.
    async fn list_webhook_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<DeliveryRecord>>;
    /// A new delivery of the event of delivery `source` to the same webhook, `webhook_id`: id
    /// `id`, `pending` with no attempts and not yet queued (the dispatcher queues it as it
    /// queues an event's own deliveries), created `at`, with `redelivery_of` = `source`. `None`
    /// when the webhook has no delivery `source`.
    async fn redeliver(
        &self,
        webhook_id: &str,
        source: &str,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Option<DeliveryRecord>>;
    /// Up to `limit` pending deliveries whose first attempt has not been queued yet, oldest
    /// first (without their attempts).
    async fn unqueued_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>>;
    /// Records that a delivery's first attempt is queued.
    async fn mark_delivery_queued(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    /// Records an attempt (replacing one with the same number) and moves a still pending
    /// delivery to `status`; `false` when the delivery is gone (its webhook deleted).
    async fn record_delivery_attempt(
        &self,
        attempt: &DeliveryAttempt,
        status: DeliveryStatus,
    ) -> Result<bool>;
    /// Sets when a pending delivery's next attempt after attempt `after` is due; `None` gives
    /// it up (`failed`). A no-op once a later attempt is recorded.
    async fn set_delivery_next_attempt(
        &self,
        id: &str,
        after: i64,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Result<()>;
}
