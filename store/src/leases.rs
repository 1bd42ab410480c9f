//! `LeaseStore`: order leases (several instances on one database). Every statement is
//! portable: `INSERT ... ON CONFLICT DO UPDATE ... WHERE` needs SQLite 3.24 or PostgreSQL 9.5,
//! `RETURNING` SQLite 3.35.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::lease::OrderLease;
use scaivault_domain::store::LeaseStore;
use scaivault_domain::timestamp::to_millis;
use time::OffsetDateTime;

use crate::dialect::{Dialect, Statement};
use crate::rows::LeaseRow;
use crate::sql_store::SqlStore;

#[async_trait]
impl<D: Dialect> LeaseStore for SqlStore<D> {
    /// One statement decides between racing instances: the row is written only when it is new,
    /// expired, or already ours; otherwise no row is affected.
    async fn acquire_order_lease(
        &self,
        order_id: &str,
        owner: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        let written = sqlx::query::<D>(
            "INSERT INTO order_leases (order_id, owner, expires_at, acquired_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (order_id) DO UPDATE SET \
                 owner = excluded.owner, \
                 expires_at = excluded.expires_at, \
                 acquired_at = CASE WHEN order_leases.owner = excluded.owner \
                     THEN order_leases.acquired_at ELSE excluded.acquired_at END \
             WHERE order_leases.expires_at < $4 OR order_leases.owner = $2",
        )
        .arg(order_id)
        .arg(owner)
        .arg(to_millis(expires_at))
        .arg(to_millis(now))
        .run(self.on_pool())
        .await?;
        Ok(written == 1)
    }

    async fn renew_order_leases(
        &self,
        owner: &str,
        expires_at: OffsetDateTime,
    ) -> Result<Vec<String>> {
        let renewed: Vec<(String,)> = sqlx::query::<D>(
            "UPDATE order_leases SET expires_at = $2 WHERE owner = $1 RETURNING order_id",
        )
        .arg(owner)
        .arg(to_millis(expires_at))
        .rows(self.on_pool())
        .await?;
        Ok(renewed.into_iter().map(|(id,)| id).collect())
    }

    async fn release_order_lease(&self, order_id: &str, owner: &str) -> Result<bool> {
        let deleted =
            sqlx::query::<D>("DELETE FROM order_leases WHERE order_id = $1 AND owner = $2")
                .arg(order_id)
                .arg(owner)
                .run(self.on_pool())
                .await?;
        Ok(deleted == 1)
    }

    async fn release_order_leases(&self, owner: &str) -> Result<u64> {
        sqlx::query::<D>("DELETE FROM order_leases WHERE owner = $1")
            .arg(owner)
            .run(self.on_pool())
            .await
    }

    async fn clear_foreign_order_leases(&self, owner: &str) -> Result<u64> {
        sqlx::query::<D>("DELETE FROM order_leases WHERE owner <> $1")
            .arg(owner)
            .run(self.on_pool())
            .await
    }

    async fn clear_stale_order_leases(&self, now: OffsetDateTime) -> Result<u64> {
        sqlx::query::<D>(
            "DELETE FROM order_leases WHERE expires_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM acme_orders o WHERE o.id = order_leases.order_id \
             AND o.status IN ('pending', 'ready', 'processing'))",
        )
        .arg(to_millis(now))
        .run(self.on_pool())
        .await
    }

    async fn claimable_orders(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<String>> {
        let ids: Vec<(String,)> = sqlx::query::<D>(
            "SELECT o.id FROM acme_orders o \
             LEFT JOIN order_leases l ON l.order_id = o.id \
             WHERE o.status IN ('pending', 'ready', 'processing') \
             AND (l.order_id IS NULL OR l.expires_at < $1) \
             ORDER BY o.created_at, o.id LIMIT $2",
        )
        .arg(to_millis(now))
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn get_order_lease(&self, order_id: &str) -> Result<Option<OrderLease>> {
        let row: Option<LeaseRow> = sqlx::query::<D>(
            "SELECT order_id, owner, expires_at, acquired_at FROM order_leases \
             WHERE order_id = $1",
        )
        .arg(order_id)
        .row(self.on_pool())
        .await?;
        Ok(row.map(LeaseRow::into_record))
    }
}
