//! The durable renewal queue: apalis storage in the service's own database (`apalis-sqlite` for
//! `sqlite:` URLs, `apalis-postgres` for `postgres://`), a worker that polls it, and durable
//! exponential backoff.
//!
//! What apalis 1.0 needs handled here, all checked against its sources:
//!
//! - A fetch that finds nothing parks the worker until something wakes it, so a task delayed into
//!   the future is only picked up when the backend polls on an interval. apalis' own
//!   `poll_with_interval` re-arms its timer without polling it: when a fetch then completes
//!   within the same poll (seen on PostgreSQL, within a second or so), nothing wakes the worker
//!   again and it stalls for good. [`Tick`] is an interval that always leaves its timer armed.
//! - `run_at` is stored in whole seconds. The exact due time travels with the task and the worker
//!   waits out the remaining fraction of a second before calling the handler, so a task never
//!   runs before its time and short backoff delays stay distinguishable.
//! - A failed task (status `Failed`, attempts below `max_attempts`) is fetched again at the next
//!   poll, i.e. apalis retries in-process with no delay. A failed attempt is therefore completed
//!   as a success and re-enqueued as a NEW delayed task carrying `attempt + 1`, so the backoff
//!   survives restarts. `RetryAfterError` is not used (it leaves a SQLite row locked).
//! - A worker registration is refused while a worker of the same name was seen within one
//!   heartbeat interval, so every worker run gets a fresh name.
//! - Any storage error kills the worker (its backend goes `Dead`); [`RenewalQueue::run`] starts a
//!   fresh worker after a short pause until shutdown is signalled.
//! - `SqliteStorage::setup` sets `PRAGMA synchronous = OFF` on whichever pooled connection runs it;
//!   the queue opens its own pool (WAL, `synchronous = NORMAL`, busy timeout) and only runs
//!   apalis' migrator. Those are recorded in `_sqlx_migrations`; the service's own migrations are
//!   recorded in `scaivault_migrations`, so the two migrators never see each other's versions.
//!   On PostgreSQL apalis' `sqlx.toml` puts its table in its own schema: `apalis._sqlx_migrations`.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{
    BackendExt, PollSnapshot, PollStrategy, TaskBuilder, TaskId, TaskSink, TaskSinkError,
    WorkerBuilder,
};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Backoff, Error, JobError};

/// The apalis queue (its `job_type`) renewals are stored under.
pub const QUEUE_NAME: &str = "renewals";

/// Renew one certificate. `attempt` counts failed attempts before this one (0 for the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalTask {
    pub certificate_id: String,
    pub attempt: u32,
}

/// Tuning for a [`RenewalQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// How often an idle worker looks for due tasks.
    pub poll_interval: Duration,
    /// The delay before retrying a failed attempt.
    pub backoff: Backoff,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            backoff: Backoff {
                base: Duration::from_secs(60),
                max: Duration::from_secs(6 * 3600),
            },
        }
    }
}

/// What is stored per task: the task and its exact due time (apalis' `run_at` is whole seconds).
/// Public only so the admin dashboard can show (and, behind auth, push) the queue's tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    #[serde(flatten)]
    task: RenewalTask,
    /// Unix milliseconds before which the handler is not called.
    not_before_ms: i64,
}

/// The renewal queue's apalis storage, for the admin dashboard ([`RenewalQueue::storage`]).
#[derive(Clone)]
pub enum Storage {
    Sqlite(SqliteStorage<Stored>),
    Postgres(PostgresStorage<Stored>),
}

/// The renewal queue on the service's database: schedules durable delayed tasks and runs workers.
#[derive(Clone)]
pub struct RenewalQueue {
    storage: Storage,
    options: QueueOptions,
    /// Told of every failed attempt once its retry is stored (set once, shared by clones).
    on_failure: Arc<OnceLock<FailureHook>>,
}

/// A failed attempt, as reported to the [`RenewalQueue::on_failure`] hook.
#[derive(Debug, Clone)]
pub struct FailedAttempt {
    /// The attempt that failed (its `attempt` counts from 0).
    pub task: RenewalTask,
    pub reason: String,
    /// When the next attempt is due (the stored retry's exact due time).
    pub next_attempt_at: OffsetDateTime,
}

type FailureHook = Arc<dyn Fn(FailedAttempt) + Send + Sync>;

impl fmt::Debug for RenewalQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalQueue")
            .field("backend", &self.backend())
            .field("options", &self.options)
            .finish()
    }
}

/// The pause before a crashed worker is started again.
const RESTART: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

impl RenewalQueue {
    /// Opens the queue on `database_url` (its own pool) with default options and applies
    /// apalis' migrations.
    pub async fn connect(database_url: &str) -> Result<Self, Error> {
        Self::connect_with(database_url, QueueOptions::default()).await
    }

    /// Opens the queue on `database_url` with `options` and applies apalis' migrations.
    pub async fn connect_with(database_url: &str, options: QueueOptions) -> Result<Self, Error> {
        let storage = if database_url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(database_url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            if let Some(dir) = connect.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(connect)
                .await?;
            SqliteStorage::migrations().run(&pool).await?;
            let config = apalis_sqlite::Config::default().queue(QUEUE_NAME);
            Storage::Sqlite(SqliteStorage::new(&pool).with_config(config))
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(database_url)
                .await?;
            // Takes sqlx' advisory lock, so instances starting together migrate once.
            PostgresStorage::migrations().run(&pool).await?;
            let config = apalis_postgres::Config::default().queue(QUEUE_NAME);
            Storage::Postgres(PostgresStorage::new(&pool).with_config(config))
        } else {
            return Err(Error::UnsupportedUrl);
        };
        Ok(Self {
            storage,
            options,
            on_failure: Arc::default(),
        })
    }

    /// Registers the hook told of each failed attempt after its retry is stored (e.g. to record
    /// a `certificate.renewal_failed` event with the exact next attempt time). Only the first
    /// registration counts.
    pub fn on_failure(&self, hook: impl Fn(FailedAttempt) + Send + Sync + 'static) {
        let _ = self.on_failure.set(Arc::new(hook));
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.storage {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// The apalis storage behind the queue (a cheap clone sharing its pool), for the admin job
    /// dashboard. Scheduling goes through [`RenewalQueue::schedule`].
    pub fn storage(&self) -> Storage {
        self.storage.clone()
    }

    /// The options the queue was opened with.
    pub fn options(&self) -> &QueueOptions {
        &self.options
    }

    /// Stores `task` to run at `run_at` (at once if that has passed). Durable: it survives
    /// restarts and is handed to exactly one worker.
    pub async fn schedule(&self, task: RenewalTask, run_at: OffsetDateTime) -> Result<(), Error> {
        self.push(
            Stored {
                task,
                not_before_ms: unix_ms(run_at),
            },
            None,
        )
        .await
    }

    async fn push(&self, stored: Stored, idempotency_key: Option<String>) -> Result<(), Error> {
        let seconds = u64::try_from(stored.not_before_ms.div_euclid(1000)).unwrap_or(0);
        let mut builder = TaskBuilder::new(stored).run_at_timestamp(seconds);
        if let Some(key) = idempotency_key {
            builder = builder.idempotency_key(key);
        }
        let task = builder.build();
        match &self.storage {
            // SQLite's insert ignores a repeated idempotency key (ON CONFLICT DO NOTHING).
            Storage::Sqlite(storage) => storage
                .clone()
                .push_task(task)
                .await
                .map_err(|e| sink_error(e, Error::Sqlite)),
            Storage::Postgres(storage) => match storage.clone().push_task(task).await {
                // PostgreSQL's insert fails on it instead: the task is already there.
                Err(TaskSinkError::PushError(apalis_postgres::Error::Database(
                    sqlx::Error::Database(db),
                ))) if db.is_unique_violation() => Ok(()),
                result => result.map_err(|e| sink_error(e, Error::Postgres)),
            },
        }
    }

    /// Starts a worker that calls `handler` for each due task until `shutdown` turns true (or
    /// its sender is dropped); in-flight tasks finish first. A failed attempt is retried as a new
    /// task after [`Backoff::delay`]; a panicking handler counts as a failed attempt.
    pub fn run<H, Fut>(&self, handler: H, shutdown: watch::Receiver<bool>) -> JoinHandle<()>
    where
        H: Fn(RenewalTask) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let queue = self.clone();
        tokio::spawn(queue.work(handler, shutdown))
    }

    async fn work<H, Fut>(self, handler: H, mut shutdown: watch::Receiver<bool>)
    where
        H: Fn(RenewalTask) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let mut crashes = 0u32;
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Registration is refused while a worker of the same name looks alive.
            let name = format!("{QUEUE_NAME}-{:016x}", rand::random::<u64>());
            let service = {
                let queue = self.clone();
                let handler = handler.clone();
                move |stored: Stored, id: TaskId| {
                    let queue = queue.clone();
                    let handler = handler.clone();
                    async move { queue.attempt(handler, stored, id).await }
                }
            };
            let stop = {
                let mut shutdown = shutdown.clone();
                async move {
                    // A dropped sender also means shut down.
                    let _ = shutdown.wait_for(|stop| *stop).await;
                    Ok::<(), apalis::prelude::WorkerError>(())
                }
            };
            let interval = self.options.poll_interval;
            tracing::debug!(worker = %name, backend = self.backend(), "job worker starting");
            let result = match &self.storage {
                Storage::Sqlite(storage) => {
                    WorkerBuilder::new(name.as_str())
                        .backend(storage.clone().poll_with_strategy(Tick::new(interval)))
                        .build(service)
                        .run_until(stop)
                        .await
                }
                Storage::Postgres(storage) => {
                    WorkerBuilder::new(name.as_str())
                        .backend(storage.clone().poll_with_strategy(Tick::new(interval)))
                        .build(service)
                        .run_until(stop)
                        .await
                }
            };
            match result {
                Ok(()) => {
                    tracing::debug!(worker = %name, "job worker stopped");
                    return;
                }
                Err(error) => {
                    let pause = RESTART.delay(crashes, None);
                    crashes = crashes.saturating_add(1);
                    tracing::warn!(worker = %name, %error, ?pause, "job worker failed; restarting");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    }
                }
            }
        }
    }

    /// One attempt: wait for the exact due time, call the handler, and on failure enqueue the
    /// next attempt. An error here (the next attempt could not be stored) fails the apalis task.
    async fn attempt<H, Fut>(&self, handler: H, stored: Stored, id: TaskId) -> Result<(), Error>
    where
        H: Fn(RenewalTask) -> Fut,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let early_ms = stored.not_before_ms - unix_ms(OffsetDateTime::now_utc());
        if let Ok(early_ms) = u64::try_from(early_ms)
            && early_ms > 0
        {
            tokio::time::sleep(Duration::from_millis(early_ms)).await;
        }
        let task = stored.task;
        let outcome = match tokio::spawn(handler(task.clone())).await {
            Ok(outcome) => outcome,
            Err(join) => Err(JobError::new(format!("handler failed: {join}"))),
        };
        let error = match outcome {
            Ok(()) => {
                tracing::debug!(certificate_id = %task.certificate_id, attempt = task.attempt, "job done");
                return Ok(());
            }
            Err(error) => error,
        };
        let delay = self.options.backoff.delay(task.attempt, error.retry_after);
        let next_at = OffsetDateTime::now_utc() + delay;
        let next = RenewalTask {
            attempt: task.attempt.saturating_add(1),
            ..task
        };
        tracing::warn!(
            certificate_id = %next.certificate_id,
            attempt = next.attempt - 1,
            %error,
            next_attempt_at = %next_at,
            "job attempt failed; retrying later"
        );
        // Keyed by the failed task, so a re-run of it (say, after a crash before its ack) does
        // not start a second chain of retries.
        let failed = RenewalTask {
            attempt: next.attempt - 1,
            ..next.clone()
        };
        self.push(
            Stored {
                task: next,
                not_before_ms: unix_ms(next_at),
            },
            Some(format!("retry-of:{id}")),
        )
        .await?;
        if let Some(hook) = self.on_failure.get() {
            hook(FailedAttempt {
                task: failed,
                reason: error.message.clone(),
                next_attempt_at: next_at,
            });
        }
        Ok(())
    }
}

/// Wakes the worker every `interval` so it fetches tasks that have come due.
struct Tick(tokio::time::Interval);

impl Tick {
    fn new(interval: Duration) -> Self {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(ticks)
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        // Poll until Pending, so the next tick is always registered with the waker.
        let mut ticked = false;
        while self.0.poll_tick(cx).is_ready() {
            ticked = true;
        }
        if ticked {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn sink_error<E: fmt::Display>(error: TaskSinkError<E>, wrap: fn(E) -> Error) -> Error {
    match error {
        TaskSinkError::PushError(e) => wrap(e),
        other => Error::Enqueue(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

    /// A retry keyed by the failed task is stored once, however often it is pushed: SQLite
    /// ignores the repeat, PostgreSQL's unique violation is taken as "already there".
    async fn retry_is_stored_once(url: &str) {
        let queue = RenewalQueue::connect(url).await.expect("connect");
        let stored = || Stored {
            task: RenewalTask {
                certificate_id: "crt_retry".into(),
                attempt: 1,
            },
            not_before_ms: unix_ms(OffsetDateTime::now_utc()) + 60_000,
        };
        for _ in 0..2 {
            queue
                .push(stored(), Some("retry-of:task-1".into()))
                .await
                .expect("push");
        }
        let rows: i64 = if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
            sqlx::query_scalar("SELECT COUNT(*) FROM Jobs")
                .fetch_one(&mut conn)
                .await
                .expect("count")
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
            sqlx::query_scalar("SELECT COUNT(*) FROM apalis.jobs")
                .fetch_one(&mut conn)
                .await
                .expect("count")
        };
        assert_eq!(rows, 1);
    }

    #[tokio::test]
    async fn retry_is_stored_once_on_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        retry_is_stored_once(&format!("sqlite://{}/jobs.db", dir.path().display())).await;
    }

    #[tokio::test]
    async fn retry_is_stored_once_on_postgres() {
        const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
        let name = format!("sv_jobs_unit_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(ADMIN)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        retry_is_stored_once(&format!("postgres://postgres@127.0.0.1:5432/{name}")).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .expect("drop database");
    }
}
