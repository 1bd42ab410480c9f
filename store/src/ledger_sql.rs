//! Statements for the local rate-limit ledger, expanded as inherent methods of each backend's
//! store.

macro_rules! ledger_methods {
    () => {
        async fn sql_insert_ledger_entries(&self, entries: &[LedgerEntry]) -> Result<()> {
            let mut tx = self.begin_write().await.map_err(query_error)?;
            for entry in entries {
                sqlx::query(
                    "INSERT INTO rate_ledger (id, scope, kind, subject, account_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(scaivault_domain::ids::new_id("ledger"))
                .bind(&entry.key.scope)
                .bind(entry.key.kind.as_str())
                .bind(&entry.key.subject)
                .bind(&entry.account_id)
                .bind(to_millis(entry.at))
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            }
            tx.commit().await.map_err(query_error)?;
            Ok(())
        }

        async fn sql_ledger_times(
            &self,
            key: &LedgerKey,
            after: OffsetDateTime,
        ) -> Result<Vec<OffsetDateTime>> {
            let rows = sqlx::query(
                "SELECT created_at FROM rate_ledger \
                 WHERE scope = $1 AND kind = $2 AND subject = $3 AND created_at > $4 \
                 ORDER BY created_at",
            )
            .bind(&key.scope)
            .bind(key.kind.as_str())
            .bind(&key.subject)
            .bind(to_millis(after))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
            rows.iter()
                .map(|row| {
                    row.try_get::<i64, _>("created_at")
                        .map(from_millis)
                        .map_err(query_error)
                })
                .collect()
        }

        async fn sql_prune_ledger(&self, scope: &str, before: OffsetDateTime) -> Result<u64> {
            let done = sqlx::query("DELETE FROM rate_ledger WHERE scope = $1 AND created_at <= $2")
                .bind(scope)
                .bind(to_millis(before))
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(done.rows_affected())
        }
    };
}
