//! Statements over the job queue's renewal tasks (apalis' table in the same database: `Jobs` on
//! SQLite, `apalis.jobs` on PostgreSQL), expanded inside each backend's `impl Store`. apalis
//! offers no call to cancel a pending task or to find certificates without one, and the rule
//! "every valid auto-renewed certificate has exactly one pending renewal" needs both.

macro_rules! job_methods {
    ($jobs:literal, $now:literal, $json:literal) => {
        async fn sql_supersede_renewal_tasks(
            &self,
            certificate_id: &str,
            keep_key: &str,
        ) -> Result<u64> {
            let (start, end) = scaivault_domain::renewal::task_key_range(certificate_id);
            let reason = serde_json::json!(format!("superseded by {keep_key}")).to_string();
            let done = sqlx::query(concat!(
                "UPDATE ",
                $jobs,
                " SET status = 'Killed', done_at = ",
                $now,
                ", last_result = ",
                $json,
                " WHERE job_type = 'renewals' AND status = 'Pending' \
                 AND idempotency_key >= $1 AND idempotency_key < $2 AND idempotency_key <> $3"
            ))
            .bind(start)
            .bind(end)
            .bind(keep_key)
            .bind(reason)
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(done.rows_affected())
        }

        async fn sql_renewal_gaps(
            &self,
            after: &str,
            limit: u32,
        ) -> Result<Vec<scaivault_domain::renewal::RenewalGap>> {
            let rows = sqlx::query(concat!(
                "SELECT c.id, c.current_version, c.renew_at FROM certificates c \
                 WHERE c.status = 'valid' AND c.auto_renew = 1 AND c.renew_at IS NOT NULL \
                 AND c.id > $1 AND NOT EXISTS (SELECT 1 FROM ",
                $jobs,
                " j WHERE j.job_type = 'renewals' \
                 AND j.status IN ('Pending', 'Queued', 'Running', 'Failed') \
                 AND j.idempotency_key >= 'renewal:' || c.id || ':' \
                 AND j.idempotency_key < 'renewal:' || c.id || ';') \
                 ORDER BY c.id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
            rows.iter()
                .map(|row| {
                    Ok(scaivault_domain::renewal::RenewalGap {
                        certificate_id: row.try_get("id").map_err(query_error)?,
                        version: row.try_get("current_version").map_err(query_error)?,
                        renew_at: from_millis(row.try_get("renew_at").map_err(query_error)?),
                    })
                })
                .collect()
        }

        async fn sql_pending_renewal_tasks(&self, certificate_id: &str) -> Result<Vec<String>> {
            let (start, end) = scaivault_domain::renewal::task_key_range(certificate_id);
            sqlx::query_scalar(concat!(
                "SELECT idempotency_key FROM ",
                $jobs,
                " WHERE job_type = 'renewals' AND status IN ('Pending', 'Queued', 'Running', 'Failed') \
                 AND idempotency_key >= $1 AND idempotency_key < $2 ORDER BY idempotency_key"
            ))
            .bind(start)
            .bind(end)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)
        }
    };
}
