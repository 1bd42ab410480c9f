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

        /// "No live task" is a scalar subquery (`(SELECT 1 ... LIMIT 1) IS NULL`), not `NOT
        /// EXISTS`: PostgreSQL may turn `NOT EXISTS` into an anti join, and with statistics
        /// that still say the jobs table is small (a fresh or bulk-loaded database) it then
        /// scans every renewal task for every certificate, which made start-up with 100,000
        /// certificates quadratic (BENCHMARKS.md). A subquery is always one index range scan
        /// per certificate, whatever the statistics; SQLite runs both forms that way.
        async fn sql_renewal_gaps(
            &self,
            after: &str,
            limit: u32,
        ) -> Result<Vec<scaivault_domain::renewal::RenewalGap>> {
            let rows = sqlx::query(concat!(
                "SELECT c.id, c.current_version, c.renew_at FROM certificates c \
                 WHERE c.status = 'valid' AND c.auto_renew = 1 AND c.renew_at IS NOT NULL \
                 AND c.id > $1 AND (SELECT 1 FROM ",
                $jobs,
                " j WHERE j.job_type = 'renewals' \
                 AND j.status IN ('Pending', 'Queued', 'Running', 'Failed') \
                 AND j.idempotency_key >= 'renewal:' || c.id || ':' \
                 AND j.idempotency_key < 'renewal:' || c.id || ';' LIMIT 1) IS NULL \
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

        /// Two `EXISTS` with `run_at` as a range on apalis' `(job_type, status, run_at)` index:
        /// apalis' own fetch filters on `run_at IS NULL OR run_at <= now`, which no index
        /// serves as a range, so SQLite walks every pending task of the queue when none is due.
        async fn sql_jobs_due(&self, queue: &str) -> Result<bool> {
            let due: i64 = sqlx::query_scalar(concat!(
                "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM ",
                $jobs,
                " WHERE job_type = $1 AND status = 'Pending' AND run_at <= ",
                $now,
                ") OR EXISTS (SELECT 1 FROM ",
                $jobs,
                " WHERE job_type = $1 AND status = 'Failed' AND attempts < max_attempts \
                 AND run_at <= ",
                $now,
                ") THEN 1 ELSE 0 END AS BIGINT)"
            ))
            .bind(queue)
            .fetch_one(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(due == 1)
        }

        /// Rows per queue and status, for the queue depth gauge of `GET /metrics`.
        async fn sql_job_queue_depths(&self) -> Result<Vec<scaivault_domain::metrics::QueueDepth>> {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(concat!(
                "SELECT job_type, status, COUNT(*) FROM ",
                $jobs,
                " GROUP BY job_type, status ORDER BY job_type, status"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(rows
                .into_iter()
                .map(|(queue, status, count)| scaivault_domain::metrics::QueueDepth {
                    queue,
                    status,
                    count,
                })
                .collect())
        }
    };
}

/// The first renewal task (ARI check 0, attempt 0) of each gap, as rows of apalis' table in the
/// exact form the queue's own insert gives them (`jobs/src/queue.rs` `JobQueue::schedule` with
/// a `jobs/src/renewal.rs` `RenewalTask`): the job is the JSON of `Stored<RenewalTask>`
/// (the task's fields, then `not_before_ms`), `run_at` whole seconds (rounded down), the
/// idempotency key [`scaivault_domain::renewal::task_key`], a ULID as id, apalis' defaults
/// otherwise (`Pending`, 0 attempts, 25 max attempts, priority 0, empty metadata). A JSON array
/// of `{id, job, run_at, key}`, so one statement with one bind inserts a whole batch on either
/// backend (sqlx takes only static SQL, so a multi-row VALUES of variable length is not an
/// option).
fn renewal_task_rows(gaps: &[scaivault_domain::renewal::RenewalGap]) -> String {
    let rows: Vec<serde_json::Value> = gaps
        .iter()
        .map(|gap| {
            let not_before_ms = scaivault_domain::timestamp::to_millis(gap.renew_at);
            // Field order as serde writes `Stored { #[serde(flatten)] task, not_before_ms }`.
            let job = format!(
                "{{\"certificate_id\":{},\"version\":{},\"check\":0,\"attempt\":0,\"not_before_ms\":{not_before_ms}}}",
                serde_json::Value::from(gap.certificate_id.as_str()),
                gap.version
            );
            serde_json::json!({
                "id": ulid(),
                "job": job,
                "run_at": not_before_ms.div_euclid(1000).max(0),
                "key": scaivault_domain::renewal::task_key(&gap.certificate_id, gap.version, 0, 0),
            })
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}

/// A ULID (48-bit unix milliseconds of now, 80 random bits, Crockford base32), the id form
/// apalis gives its tasks; the time part is the insert time, as apalis'.
fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let now_ms = scaivault_domain::timestamp::to_millis(scaivault_domain::timestamp::now());
    let mut value = u128::from(u64::try_from(now_ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF) << 80;
    for (i, byte) in scaivault_domain::ids::random_bytes(10)
        .into_iter()
        .enumerate()
    {
        value |= u128::from(byte) << (72 - 8 * i);
    }
    (0..26)
        .map(|i| char::from(ALPHABET[((value >> (125 - 5 * i)) & 31) as usize]))
        .collect()
}

impl crate::SqliteStore {
    pub(crate) async fn sql_insert_renewal_tasks(
        &self,
        gaps: &[scaivault_domain::renewal::RenewalGap],
    ) -> scaivault_domain::Result<u64> {
        if gaps.is_empty() {
            return Ok(0);
        }
        // apalis-sqlite's sink.sql, over json_each; `WHERE true` resolves the ON CONFLICT
        // ambiguity of INSERT ... SELECT (SQLite's upsert documentation).
        let done = sqlx::query(
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, \
             last_result, lock_at, lock_by, done_at, priority, metadata, idempotency_key) \
             SELECT CAST(json_extract(r.value, '$.job') AS BLOB), json_extract(r.value, '$.id'), \
             'renewals', 'Pending', 0, 25, json_extract(r.value, '$.run_at'), NULL, NULL, NULL, \
             NULL, 0, '{}', json_extract(r.value, '$.key') FROM json_each($1) r WHERE true \
             ON CONFLICT (job_type, idempotency_key) DO NOTHING",
        )
        .bind(renewal_task_rows(gaps))
        .execute(&self.pool)
        .await
        .map_err(crate::error::query_error)?;
        Ok(done.rows_affected())
    }
}

impl crate::PgStore {
    pub(crate) async fn sql_insert_renewal_tasks(
        &self,
        gaps: &[scaivault_domain::renewal::RenewalGap],
    ) -> scaivault_domain::Result<u64> {
        if gaps.is_empty() {
            return Ok(0);
        }
        // apalis-postgres' sink.sql, over jsonb_to_recordset; a key that exists is skipped, as
        // the queue's own push treats its unique violation.
        let done = sqlx::query(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, \
             priority, metadata, idempotency_key) \
             SELECT r.id, 'renewals', convert_to(r.job, 'UTF8'), 'Pending', 0, 25, \
             to_timestamp(r.run_at), 0, ''::hstore, r.key \
             FROM jsonb_to_recordset($1::jsonb) AS r(id text, job text, run_at bigint, key text) \
             ON CONFLICT DO NOTHING",
        )
        .bind(renewal_task_rows(gaps))
        .execute(&self.pool)
        .await
        .map_err(crate::error::query_error)?;
        Ok(done.rows_affected())
    }
}
