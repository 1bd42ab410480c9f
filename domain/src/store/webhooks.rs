//! Webhook subscriptions with their sealed signing secrets.

use async_trait::async_trait;

use crate::Result;
use crate::webhook::WebhookRecord;

#[async_trait]
pub trait WebhookStore: Send + Sync + std::fmt::Debug {
    /// Stores a webhook with its sealed secret.
    async fn insert_webhook(&self, webhook: &WebhookRecord, sealed_secret: &[u8]) -> Result<()>;
    /// The webhook with this id.
    async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>>;
    /// A page of webhooks, newest first; `before` is a `(created_at millis, id)` cursor.
    async fn list_webhooks(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<WebhookRecord>>;
    /// The webhook's sealed secret.
    async fn webhook_secret(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Deletes a webhook with its deliveries and their attempts; `false` when there was none.
    async fn delete_webhook(&self, id: &str) -> Result<bool>;
}
