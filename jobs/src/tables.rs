//! Statements over apalis' table (`Jobs` on SQLite, `apalis.jobs` on PostgreSQL) that apalis
//! itself does not offer: retiring a certificate's superseded renewal tasks, finding
//! certificates without one, storing many first tasks at once, a cheap "is anything due" probe,
//! and the queue depths `GET /metrics` shows. Only this crate knows the table; the rest of the
//! service asks through [`JobDatabase`].
//!
//! Every statement returns rows (a write `RETURNING` what it wrote), so one generic reader
//! serves both backends; the two spellings of each statement differ only in the table's name,
//! "now", and the JSON functions.

use std::collections::HashSet;

use sqlx::{Database, Executor, FromRow, IntoArguments, Pool};

use crate::database::{Backend, JobDatabase};
use crate::renewal::{FirstRenewal, RenewalTask, task_key, task_key_range};
use crate::{Error, Stored};

/// One statement in each backend's spelling.
struct Sql {
    sqlite: &'static str,
    postgres: &'static str,
}

/// Retires the pending renewal tasks of one certificate except the one to keep ($1..$2 the
/// certificate's key range, $3 the key kept, $4 the reason as a JSON string).
const SUPERSEDE: Sql = Sql {
    sqlite: "UPDATE Jobs SET status = 'Killed', done_at = strftime('%s', 'now'), \
             last_result = $4 WHERE job_type = 'renewals' AND status = 'Pending' \
             AND idempotency_key >= $1 AND idempotency_key < $2 AND idempotency_key <> $3 \
             RETURNING id",
    postgres: "UPDATE apalis.jobs SET status = 'Killed', done_at = now(), \
               last_result = $4::jsonb WHERE job_type = 'renewals' AND status = 'Pending' \
               AND idempotency_key >= $1 AND idempotency_key < $2 AND idempotency_key <> $3 \
               RETURNING id",
};

/// The keys of one certificate's live renewal tasks: pending, queued, running, or failed with
/// apalis about to run it again.
const LIVE_TASKS: Sql = Sql {
    sqlite: "SELECT idempotency_key FROM Jobs WHERE job_type = 'renewals' \
             AND status IN ('Pending', 'Queued', 'Running', 'Failed') \
             AND idempotency_key >= $1 AND idempotency_key < $2 ORDER BY idempotency_key",
    postgres: "SELECT idempotency_key FROM apalis.jobs WHERE job_type = 'renewals' \
               AND status IN ('Pending', 'Queued', 'Running', 'Failed') \
               AND idempotency_key >= $1 AND idempotency_key < $2 ORDER BY idempotency_key",
};

/// Of the certificate ids in the JSON array $1, those without a live renewal task. "No live
/// task" is a scalar subquery (`(SELECT 1 ... LIMIT 1) IS NULL`), not `NOT EXISTS`: PostgreSQL
/// may turn `NOT EXISTS` into an anti join, and with statistics that still say the table is
/// small (a fresh or bulk-loaded database) it then scans every renewal task for every
/// certificate, quadratic in the fleet. The subquery is always one index range scan per
/// certificate, whatever the statistics; SQLite runs both forms that way.
const WITHOUT_LIVE_TASK: Sql = Sql {
    sqlite: "SELECT p.value FROM json_each($1) p WHERE (SELECT 1 FROM Jobs j \
             WHERE j.job_type = 'renewals' \
             AND j.status IN ('Pending', 'Queued', 'Running', 'Failed') \
             AND j.idempotency_key >= 'renewal:' || p.value || ':' \
             AND j.idempotency_key < 'renewal:' || p.value || ';' LIMIT 1) IS NULL \
             ORDER BY p.value",
    postgres: "SELECT p.id FROM jsonb_array_elements_text($1::jsonb) AS p(id) \
               WHERE (SELECT 1 FROM apalis.jobs j WHERE j.job_type = 'renewals' \
               AND j.status IN ('Pending', 'Queued', 'Running', 'Failed') \
               AND j.idempotency_key >= 'renewal:' || p.id || ':' \
               AND j.idempotency_key < 'renewal:' || p.id || ';' LIMIT 1) IS NULL \
               ORDER BY p.id",
};

/// Stores first renewal tasks given as a JSON array of `{id, job, run_at, key}` in one
/// statement (sqlx takes only static SQL, so a multi-row VALUES of variable length is not an
/// option), as apalis' own insert would (apalis-sqlite's and apalis-postgres' `sink.sql`); a
/// task whose key exists is skipped. SQLite: `WHERE true` resolves the ON CONFLICT ambiguity
/// of `INSERT ... SELECT` (SQLite's upsert documentation).
const INSERT_RENEWALS: Sql = Sql {
    sqlite: "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, \
             last_result, lock_at, lock_by, done_at, priority, metadata, idempotency_key) \
             SELECT CAST(json_extract(r.value, '$.job') AS BLOB), json_extract(r.value, '$.id'), \
             'renewals', 'Pending', 0, 25, json_extract(r.value, '$.run_at'), NULL, NULL, NULL, \
             NULL, 0, '{}', json_extract(r.value, '$.key') FROM json_each($1) r WHERE true \
             ON CONFLICT (job_type, idempotency_key) DO NOTHING RETURNING id",
    postgres: "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, \
               run_at, priority, metadata, idempotency_key) \
               SELECT r.id, 'renewals', convert_to(r.job, 'UTF8'), 'Pending', 0, 25, \
               to_timestamp(r.run_at), 0, ''::hstore, r.key \
               FROM jsonb_to_recordset($1::jsonb) AS r(id text, job text, run_at bigint, key text) \
               ON CONFLICT DO NOTHING RETURNING id",
};

/// Whether a task of queue $1 is due now: two `EXISTS` with `run_at` as a range on apalis'
/// `(job_type, status, run_at)` index. apalis' own fetch filters on
/// `run_at IS NULL OR run_at <= now`, which no index serves as a range, so SQLite walks every
/// pending task of the queue when none is due.
const DUE: Sql = Sql {
    sqlite: "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM Jobs WHERE job_type = $1 \
             AND status = 'Pending' AND run_at <= strftime('%s', 'now')) \
             OR EXISTS (SELECT 1 FROM Jobs WHERE job_type = $1 AND status = 'Failed' \
             AND attempts < max_attempts AND run_at <= strftime('%s', 'now')) \
             THEN 1 ELSE 0 END AS BIGINT)",
    postgres: "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM apalis.jobs WHERE job_type = $1 \
               AND status = 'Pending' AND run_at <= now()) \
               OR EXISTS (SELECT 1 FROM apalis.jobs WHERE job_type = $1 AND status = 'Failed' \
               AND attempts < max_attempts AND run_at <= now()) \
               THEN 1 ELSE 0 END AS BIGINT)",
};

const DEPTHS: Sql = Sql {
    sqlite: "SELECT job_type, status, COUNT(*) FROM Jobs GROUP BY job_type, status \
             ORDER BY job_type, status",
    postgres: "SELECT job_type, status, COUNT(*) FROM apalis.jobs GROUP BY job_type, status \
               ORDER BY job_type, status",
};

const DELETE_RENEWALS: Sql = Sql {
    sqlite: "DELETE FROM Jobs WHERE job_type = 'renewals' RETURNING id",
    postgres: "DELETE FROM apalis.jobs WHERE job_type = 'renewals' RETURNING id",
};

/// How many rows of a job queue are in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The queue (apalis' `job_type`): `renewals`, `scans`, `webhooks`.
    pub queue: String,
    /// apalis' status as stored (`Pending`, `Queued`, `Running`, `Done`, `Failed`, `Killed`).
    pub status: String,
    pub count: i64,
}

impl JobDatabase {
    /// Whether a task of `queue` is due now: a superset of what apalis' fetch would claim
    /// (pending, or failed with attempts left, and `run_at` reached), found by an index range
    /// seek, so a worker can skip apalis' fetch while nothing is due.
    pub async fn task_due(&self, queue: &str) -> Result<bool, Error> {
        let due: Vec<(i64,)> = self.fetch(&DUE, &[queue]).await?;
        Ok(due.first().is_some_and(|(due,)| *due == 1))
    }

    /// Rows per queue and status (`scaivault_job_queue_depth` of `GET /metrics`).
    pub async fn queue_depths(&self) -> Result<Vec<QueueDepth>, Error> {
        let rows: Vec<(String, String, i64)> = self.fetch(&DEPTHS, &[]).await?;
        Ok(rows
            .into_iter()
            .map(|(queue, status, count)| QueueDepth {
                queue,
                status,
                count,
            })
            .collect())
    }

    /// The keys of the certificate's live renewal tasks, sorted. Exactly one after every
    /// renewal step: the task of its current version.
    pub async fn live_renewal_tasks(&self, certificate_id: &str) -> Result<Vec<String>, Error> {
        let (start, end) = task_key_range(certificate_id);
        let keys: Vec<(String,)> = self.fetch(&LIVE_TASKS, &[&start, &end]).await?;
        Ok(keys.into_iter().map(|(key,)| key).collect())
    }

    /// Deletes every renewal task (an operator's reset after a bulk import, or a test making
    /// certificates that have none); the service's next start gives every certificate one
    /// again. Returns how many were deleted.
    pub async fn delete_renewal_tasks(&self) -> Result<usize, Error> {
        let deleted: Vec<(String,)> = self.fetch(&DELETE_RENEWALS, &[]).await?;
        Ok(deleted.len())
    }

    /// Marks every pending renewal task of the certificate except `keep_key` killed (superseded
    /// by a newer task); returns how many.
    pub(crate) async fn supersede_renewal_tasks(
        &self,
        certificate_id: &str,
        keep_key: &str,
    ) -> Result<usize, Error> {
        let (start, end) = task_key_range(certificate_id);
        let reason = serde_json::Value::from(format!("superseded by {keep_key}")).to_string();
        let retired: Vec<(String,)> = self
            .fetch(&SUPERSEDE, &[&start, &end, keep_key, &reason])
            .await?;
        Ok(retired.len())
    }

    /// Which of `certificate_ids` have no live renewal task.
    pub(crate) async fn without_live_renewal(
        &self,
        certificate_ids: &[&str],
    ) -> Result<HashSet<String>, Error> {
        let ids = serde_json::Value::from(certificate_ids.to_vec()).to_string();
        let gaps: Vec<(String,)> = self.fetch(&WITHOUT_LIVE_TASK, &[&ids]).await?;
        Ok(gaps.into_iter().map(|(id,)| id).collect())
    }

    /// Stores the first renewal task (ARI check 0, attempt 0) of each version, due at its
    /// `renew_at`, in one statement; a task whose key exists is skipped. Returns how many were
    /// stored.
    pub(crate) async fn insert_first_renewals(
        &self,
        renewals: &[FirstRenewal],
    ) -> Result<usize, Error> {
        if renewals.is_empty() {
            return Ok(0);
        }
        let rows = renewal_task_rows(renewals)?;
        let stored: Vec<(String,)> = self.fetch(&INSERT_RENEWALS, &[&rows]).await?;
        Ok(stored.len())
    }

    /// Runs `sql` in this backend's spelling with `args` bound as text.
    async fn fetch<T>(&self, sql: &Sql, args: &[&str]) -> Result<Vec<T>, Error>
    where
        T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        match &self.backend {
            Backend::Sqlite(pool) => fetch_on(pool, sql.sqlite, args).await,
            Backend::Postgres(pool, _) => fetch_on(pool, sql.postgres, args).await,
        }
    }
}

async fn fetch_on<DB, T>(pool: &Pool<DB>, sql: &'static str, args: &[&str]) -> Result<Vec<T>, Error>
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    T: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    let mut query = sqlx::query_as::<DB, T>(sql);
    for arg in args {
        query = query.bind(*arg);
    }
    Ok(query.fetch_all(pool).await?)
}

/// The first renewal task of each version as rows of apalis' table, in the exact form the
/// queue's own push gives them ([`crate::JobQueue::schedule`] of a [`RenewalTask`]): the job is the JSON of [`Stored`]`<RenewalTask>` (the task's fields,
/// then `not_before_ms`), `run_at` whole seconds (rounded down), the idempotency key
/// [`task_key`], a ULID as id, apalis' defaults otherwise (`Pending`, 0 attempts, 25 max
/// attempts, priority 0, empty metadata).
fn renewal_task_rows(renewals: &[FirstRenewal]) -> Result<String, Error> {
    let rows = renewals
        .iter()
        .map(|renewal| {
            let stored = Stored::new(
                RenewalTask {
                    certificate_id: renewal.certificate_id.clone(),
                    version: renewal.version,
                    check: 0,
                    attempt: 0,
                },
                renewal.renew_at,
            );
            let run_at = stored.not_before_ms().div_euclid(1000).max(0);
            let job =
                serde_json::to_string(&stored).map_err(|err| Error::Enqueue(err.to_string()))?;
            Ok(serde_json::json!({
                "id": ulid(),
                "job": job,
                "run_at": run_at,
                "key": task_key(&renewal.certificate_id, renewal.version, 0, 0),
            }))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(serde_json::Value::from(rows).to_string())
}

/// A ULID (48-bit unix milliseconds of now, 80 random bits, Crockford base32), the id form
/// apalis gives its tasks; the time part is the insert time, as apalis'.
fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let mut value = (u128::try_from(now_ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF) << 80;
    let random: [u8; 10] = rand::random();
    for (i, byte) in random.into_iter().enumerate() {
        value |= u128::from(byte) << (72 - 8 * i);
    }
    (0..26)
        .map(|i| char::from(ALPHABET[((value >> (125 - 5 * i)) & 31) as usize]))
        .collect()
}
