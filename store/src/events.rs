//! `EventStore`: the event log, and the webhook deliveries each event fans out to.
//!
//! [`insert_event_in`] runs inside the transaction that records whatever the event reports, so
//! the event and its deliveries exist exactly when that does: a crash right after the commit
//! loses nothing, and the webhook dispatcher's sweep queues what was not queued yet
//! (`queued_at IS NULL`).

use async_trait::async_trait;
use scaivault_domain::event::{Event, EventQuery};
use scaivault_domain::store::EventStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::{Error, Result, webhook};

use crate::dialect::{Dialect, Statement};
use crate::rows::{EventRow, from_json};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> EventStore for SqlStore<D> {
    async fn insert_event(&self, event: &Event) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_event_in::<D>(&mut tx, event).await?;
        commit(tx).await
    }

    async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let (after_at, after_id) = query.after.clone().unwrap_or((i64::MIN, String::new()));
        let rows: Vec<EventRow> = match &query.kind {
            Some(kind) => {
                sqlx::query::<D>(
                    "SELECT id, kind, created_at, data FROM events WHERE kind = $1 \
                 AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
                 ORDER BY created_at, id LIMIT $4",
                )
                .arg(kind.as_str())
                .arg(after_at)
                .arg(after_id)
                .arg(i64::from(query.limit))
                .rows(self.on_pool())
                .await
            }
            None => {
                sqlx::query::<D>(
                    "SELECT id, kind, created_at, data FROM events \
                 WHERE (created_at > $1 OR (created_at = $1 AND id > $2)) \
                 ORDER BY created_at, id LIMIT $3",
                )
                .arg(after_at)
                .arg(after_id)
                .arg(i64::from(query.limit))
                .rows(self.on_pool())
                .await
            }
        }?;
        rows.into_iter().map(EventRow::into_record).collect()
    }
}

/// Inserts `event` and a pending delivery of it for every webhook subscribed to its type,
/// inside the caller's transaction.
pub(crate) async fn insert_event_in<D: Dialect>(
    conn: &mut D::Connection,
    event: &Event,
) -> Result<()> {
    sqlx::query::<D>("INSERT INTO events (id, kind, created_at, data) VALUES ($1, $2, $3, $4)")
        .arg(event.id.as_str())
        .arg(event.kind.as_str())
        .arg(to_millis(event.created_at))
        .arg(event.data.to_string())
        .run(D::on_conn(conn))
        .await?;
    // The LIKE narrows the candidates (the list is JSON text); the match is exact below.
    let subscribers: Vec<(String, String)> = sqlx::query::<D>(
        "SELECT id, events FROM webhooks \
         WHERE events LIKE '%\"*\"%' OR events LIKE '%\"' || $1 || '\"%'",
    )
    .arg(event.kind.as_str())
    .rows(D::on_conn(conn))
    .await?;
    if subscribers.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string(event)
        .map_err(|e| Error::corrupt(format!("encoding event {}: {e}", event.id)))?;
    for (webhook_id, events) in subscribers {
        let events = from_json("events", &events)?;
        if !webhook::subscribes(&events, event.kind) {
            continue;
        }
        sqlx::query::<D>(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, \
             status, attempts, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6) \
             ON CONFLICT (webhook_id, event_id) WHERE redelivery_of IS NULL DO NOTHING",
        )
        .arg(webhook::new_delivery_id())
        .arg(webhook_id)
        .arg(event.id.as_str())
        .arg(event.kind.as_str())
        .arg(payload.as_str())
        .arg(to_millis(event.created_at))
        .run(D::on_conn(conn))
        .await?;
    }
    Ok(())
}
