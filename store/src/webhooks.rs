//! `WebhookStore`: webhook subscriptions and their sealed secrets.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::store::WebhookStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::webhook::WebhookRecord;

use crate::dialect::{Dialect, Statement, newest_first};
use crate::rows::{WebhookRow, to_json};
use crate::sql_store::SqlStore;

#[async_trait]
impl<D: Dialect> WebhookStore for SqlStore<D> {
    async fn insert_webhook(&self, webhook: &WebhookRecord, sealed_secret: &[u8]) -> Result<()> {
        sqlx::query::<D>(
            "INSERT INTO webhooks (id, url, events, created_at, sealed_secret) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .arg(webhook.id.as_str())
        .arg(webhook.url.as_str())
        .arg(to_json(&webhook.events)?)
        .arg(to_millis(webhook.created_at))
        .arg(sealed_secret)
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>> {
        let row: Option<WebhookRow> =
            sqlx::query::<D>("SELECT id, url, events, created_at FROM webhooks WHERE id = $1")
                .arg(id)
                .row(self.on_pool())
                .await?;
        row.map(WebhookRow::into_record).transpose()
    }

    async fn list_webhooks(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<WebhookRecord>> {
        let rows: Vec<WebhookRow> = sqlx::query::<D>(newest_first!(
            "SELECT id, url, events, created_at FROM webhooks"
        ))
        .page(limit, before)
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(WebhookRow::into_record).collect()
    }

    async fn webhook_secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query::<D>("SELECT sealed_secret FROM webhooks WHERE id = $1")
                .arg(id)
                .row(self.on_pool())
                .await?;
        Ok(row.map(|(sealed,)| sealed))
    }

    /// Deliveries and their attempts go with it (ON DELETE CASCADE); a queued attempt then
    /// finds its delivery gone and ends.
    async fn delete_webhook(&self, id: &str) -> Result<bool> {
        let deleted = sqlx::query::<D>("DELETE FROM webhooks WHERE id = $1")
            .arg(id)
            .run(self.on_pool())
            .await?;
        Ok(deleted == 1)
    }
}
