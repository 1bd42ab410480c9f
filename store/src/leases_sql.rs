//! Statements for order leases (several instances on one database), expanded as inherent
//! methods of each backend's store. Every statement is portable: `INSERT ... ON CONFLICT DO
//! UPDATE ... WHERE` needs SQLite 3.24 or PostgreSQL 9.5, `RETURNING` SQLite 3.35.

macro_rules! lease_methods {
    () => {
        async fn sql_acquire_order_lease(
            &self,
            order_id: &str,
            owner: &str,
            now: OffsetDateTime,
            expires_at: OffsetDateTime,
        ) -> Result<bool> {
            // One statement decides between racing instances: the row is written only when it
            // is new, expired, or already ours; otherwise no row is affected.
            let done = sqlx::query(
                "INSERT INTO order_leases (order_id, owner, expires_at, acquired_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (order_id) DO UPDATE SET \
                     owner = excluded.owner, \
                     expires_at = excluded.expires_at, \
                     acquired_at = CASE WHEN order_leases.owner = excluded.owner \
                         THEN order_leases.acquired_at ELSE excluded.acquired_at END \
                 WHERE order_leases.expires_at < $4 OR order_leases.owner = $2",
            )
            .bind(order_id)
            .bind(owner)
            .bind(to_millis(expires_at))
            .bind(to_millis(now))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(done.rows_affected() == 1)
        }

        async fn sql_renew_order_leases(
            &self,
            owner: &str,
            expires_at: OffsetDateTime,
        ) -> Result<Vec<String>> {
            sqlx::query_scalar(
                "UPDATE order_leases SET expires_at = $2 WHERE owner = $1 RETURNING order_id",
            )
            .bind(owner)
            .bind(to_millis(expires_at))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)
        }

        async fn sql_release_order_lease(&self, order_id: &str, owner: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM order_leases WHERE order_id = $1 AND owner = $2")
                .bind(order_id)
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(done.rows_affected() == 1)
        }

        async fn sql_release_order_leases(&self, owner: &str) -> Result<u64> {
            let done = sqlx::query("DELETE FROM order_leases WHERE owner = $1")
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(done.rows_affected())
        }

        async fn sql_clear_foreign_order_leases(&self, owner: &str) -> Result<u64> {
            let done = sqlx::query("DELETE FROM order_leases WHERE owner <> $1")
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(done.rows_affected())
        }

        async fn sql_clear_stale_order_leases(&self, now: OffsetDateTime) -> Result<u64> {
            let done = sqlx::query(concat!(
                "DELETE FROM order_leases WHERE expires_at < $1 AND NOT EXISTS \
                 (SELECT 1 FROM acme_orders o WHERE o.id = order_leases.order_id \
                 AND o.status IN ",
                unfinished_statuses!(),
                ")"
            ))
            .bind(to_millis(now))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(done.rows_affected())
        }

        async fn sql_claimable_orders(
            &self,
            now: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<String>> {
            sqlx::query_scalar(concat!(
                "SELECT o.id FROM acme_orders o \
                 LEFT JOIN order_leases l ON l.order_id = o.id \
                 WHERE o.status IN ",
                unfinished_statuses!(),
                " AND (l.order_id IS NULL OR l.expires_at < $1) \
                 ORDER BY o.created_at, o.id LIMIT $2"
            ))
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)
        }

        async fn sql_get_order_lease(&self, order_id: &str) -> Result<Option<OrderLease>> {
            let row = sqlx::query(
                "SELECT order_id, owner, expires_at, acquired_at FROM order_leases \
                 WHERE order_id = $1",
            )
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?;
            row.map(|row| {
                Ok(OrderLease {
                    order_id: row.try_get("order_id").map_err(query_error)?,
                    owner: row.try_get("owner").map_err(query_error)?,
                    expires_at: from_millis(row.try_get("expires_at").map_err(query_error)?),
                    acquired_at: from_millis(row.try_get("acquired_at").map_err(query_error)?),
                })
            })
            .transpose()
        }
    };
}
