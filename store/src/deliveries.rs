//! `DeliveryStore`: webhook deliveries and their attempts. Deliveries are created with their
//! event (`events.rs`); here they are read, queued and brought to an end.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::store::DeliveryStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::webhook::{DeliveryAttempt, DeliveryRecord, DeliveryStatus};
use time::OffsetDateTime;

use crate::dialect::{Dialect, Statement};
use crate::rows::{DeliveryAttemptRow, DeliveryRow};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> DeliveryStore for SqlStore<D> {
    async fn get_webhook_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>> {
        let row: Option<DeliveryRow> = sqlx::query::<D>(
            "SELECT id, webhook_id, event_id, event_type, payload, status, attempts, last_error, \
             last_status_code, next_attempt_at, delivered_at, created_at, redelivery_of \
             FROM webhook_deliveries WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let attempts: Vec<DeliveryAttemptRow> = sqlx::query::<D>(
            "SELECT delivery_id, attempt, at, status_code, error, duration_ms \
             FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .arg(id)
        .rows(self.on_pool())
        .await?;
        let mut delivery = row.into_record()?;
        delivery.attempt_log = attempts
            .into_iter()
            .map(DeliveryAttemptRow::into_record)
            .collect();
        Ok(Some(delivery))
    }

    async fn list_webhook_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<DeliveryRecord>> {
        let (before_at, before_id) = before.unwrap_or((i64::MAX, String::new()));
        let rows: Vec<DeliveryRow> = sqlx::query::<D>(
            "SELECT id, webhook_id, event_id, event_type, payload, status, attempts, last_error, \
             last_status_code, next_attempt_at, delivered_at, created_at, redelivery_of \
             FROM webhook_deliveries WHERE webhook_id = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .arg(webhook_id)
        .arg(before_at)
        .arg(before_id.as_str())
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        let mut deliveries = rows
            .into_iter()
            .map(DeliveryRow::into_record)
            .collect::<Result<Vec<_>>>()?;
        if deliveries.is_empty() {
            return Ok(deliveries);
        }
        // The same page again as a subquery: the attempts of exactly these deliveries.
        let attempts: Vec<DeliveryAttemptRow> = sqlx::query::<D>(
            "SELECT delivery_id, attempt, at, status_code, error, duration_ms \
             FROM webhook_delivery_attempts WHERE delivery_id IN (\
             SELECT id FROM webhook_deliveries WHERE webhook_id = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4) \
             ORDER BY delivery_id, attempt",
        )
        .arg(webhook_id)
        .arg(before_at)
        .arg(before_id.as_str())
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        for attempt in attempts.into_iter().map(DeliveryAttemptRow::into_record) {
            if let Some(delivery) = deliveries.iter_mut().find(|d| d.id == attempt.delivery_id) {
                delivery.attempt_log.push(attempt);
            }
        }
        Ok(deliveries)
    }

    /// One statement: the source is read and the copy written together, so a webhook deleted
    /// meanwhile leaves nothing behind (its deliveries go with it, and a copy of none is none).
    async fn redeliver(
        &self,
        webhook_id: &str,
        source: &str,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Option<DeliveryRecord>> {
        let row: Option<DeliveryRow> = sqlx::query::<D>(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, \
             status, attempts, created_at, redelivery_of) \
             SELECT $1, webhook_id, event_id, event_type, payload, 'pending', 0, $4, id \
             FROM webhook_deliveries WHERE id = $2 AND webhook_id = $3 \
             RETURNING id, webhook_id, event_id, event_type, payload, status, attempts, \
             last_error, last_status_code, next_attempt_at, delivered_at, created_at, \
             redelivery_of",
        )
        .arg(id)
        .arg(source)
        .arg(webhook_id)
        .arg(to_millis(at))
        .row(self.on_pool())
        .await?;
        row.map(DeliveryRow::into_record).transpose()
    }

    async fn unqueued_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>> {
        let rows: Vec<DeliveryRow> = sqlx::query::<D>(
            "SELECT id, webhook_id, event_id, event_type, payload, status, attempts, last_error, \
             last_status_code, next_attempt_at, delivered_at, created_at, redelivery_of \
             FROM webhook_deliveries WHERE queued_at IS NULL AND status = 'pending' \
             ORDER BY created_at, id LIMIT $1",
        )
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(DeliveryRow::into_record).collect()
    }

    async fn mark_delivery_queued(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        sqlx::query::<D>(
            "UPDATE webhook_deliveries SET queued_at = $2 WHERE id = $1 AND queued_at IS NULL",
        )
        .arg(id)
        .arg(to_millis(at))
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn record_delivery_attempt(
        &self,
        attempt: &DeliveryAttempt,
        status: DeliveryStatus,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // The write first, so SQLite holds the write lock for the whole transaction.
        let delivered_at = (status == DeliveryStatus::Delivered).then(|| to_millis(attempt.at));
        sqlx::query::<D>(
            "UPDATE webhook_deliveries SET \
             attempts = CASE WHEN attempts > $2 THEN attempts ELSE $2 END, \
             status = $3, last_error = COALESCE($4, last_error), last_status_code = $5, \
             next_attempt_at = NULL, delivered_at = $6 \
             WHERE id = $1 AND status = 'pending'",
        )
        .arg(attempt.delivery_id.as_str())
        .arg(attempt.attempt)
        .arg(status.as_str())
        .arg(attempt.error.as_deref())
        .arg(attempt.status_code)
        .arg(delivered_at)
        .run(D::on_conn(&mut tx))
        .await?;
        let recorded = sqlx::query::<D>(
            "INSERT INTO webhook_delivery_attempts \
             (delivery_id, attempt, at, status_code, error, duration_ms) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1) \
             ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = excluded.at, \
             status_code = excluded.status_code, error = excluded.error, \
             duration_ms = excluded.duration_ms",
        )
        .arg(attempt.delivery_id.as_str())
        .arg(attempt.attempt)
        .arg(to_millis(attempt.at))
        .arg(attempt.status_code)
        .arg(attempt.error.as_deref())
        .arg(attempt.duration_ms)
        .run(D::on_conn(&mut tx))
        .await?;
        commit(tx).await?;
        Ok(recorded == 1)
    }

    async fn set_delivery_next_attempt(
        &self,
        id: &str,
        after: i64,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Result<()> {
        match next_attempt_at {
            Some(at) => {
                sqlx::query::<D>(
                    "UPDATE webhook_deliveries SET next_attempt_at = $3 \
                     WHERE id = $1 AND status = 'pending' AND attempts <= $2",
                )
                .arg(id)
                .arg(after)
                .arg(to_millis(at))
                .run(self.on_pool())
                .await
            }
            None => {
                sqlx::query::<D>(
                    "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL \
                     WHERE id = $1 AND status = 'pending' AND attempts <= $2",
                )
                .arg(id)
                .arg(after)
                .run(self.on_pool())
                .await
            }
        }?;
        Ok(())
    }
}
