//! Durable job queues: apalis storage in the service's own database (`apalis-sqlite` for
//! `sqlite:` URLs, `apalis-postgres` for `postgres://`), one queue per [`Job`] kind (renewals,
//! webhook deliveries, scans), a worker per queue that polls it, and durable exponential backoff.
//!
//! What apalis 1.0 needs handled here, all checked against its sources:
//!
//! - A fetch that finds nothing parks the worker until something wakes it, so a task delayed into
//!   the future is only picked up when the backend polls on an interval. apalis' own
//!   `poll_with_interval` re-arms its timer without polling it: when a fetch then completes
//!   within the same poll (seen on PostgreSQL, within a second or so), nothing wakes the worker
//!   again and it stalls for good. [`Tick`] is an interval that always leaves its timer armed.
//!   On PostgreSQL it is also woken by apalis' insert trigger (`LISTEN apalis::job::insert`),
//!   so a task due now starts at once on whichever instance gets it first.
//! - `run_at` is stored in whole seconds. The exact due time travels with the task and the worker
//!   waits out the remaining fraction of a second before calling the handler, so a task never
//!   runs before its time and short backoff delays stay distinguishable.
//! - A failed task (status `Failed`, attempts below `max_attempts`) is fetched again at the next
//!   poll, i.e. apalis retries in-process with no delay. A failed attempt is therefore completed
//!   as a success and re-enqueued as a NEW delayed task carrying `attempt + 1`, so the backoff
//!   survives restarts. `RetryAfterError` is not used (it leaves a SQLite row locked).
//! - A worker registration is refused while a worker of the same name was seen within one
//!   heartbeat interval, so every worker run gets a fresh name.
//! - Any storage error kills the worker (its backend goes `Dead`); [`JobQueue::run`] starts a
//!   fresh worker after a short pause until shutdown is signalled.
//! - Idempotency keys are unique per queue over all statuses (done tasks included), so a key
//!   names one task for good: keys carry what makes a task distinct (version, attempt, slot).
//! - On SQLite, apalis' fetch walks every pending task of a queue when none is due, so workers
//!   there poll it only when [`JobDatabase::task_due`] says a task is due ([`crate::due_gate`]).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{
    BackendExt, PollSnapshot, PollStrategy, TaskBuilder, TaskId, TaskSink, TaskSinkError,
    WorkerBuilder,
};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::database::{Backend, JobDatabase};
use crate::due_gate::{Activity, DueProbe};
use crate::{Backoff, Error, JobError};

/// A kind of durable job: what one task of its queue carries.
pub trait Job:
    Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + Unpin + 'static
{
    /// The apalis queue (its `job_type`) tasks of this kind are stored under.
    const QUEUE: &'static str;

    /// Failed attempts before this one (0 for the first).
    fn attempt(&self) -> u32;

    /// The task for the next attempt after this one failed.
    #[must_use]
    fn next_attempt(&self) -> Self;

    /// The idempotency key of this task: pushing a task whose key exists is a no-op, so a
    /// re-run of a failed attempt (say, after a crash before its ack) never starts a second
    /// chain of retries. `None` for tasks that may repeat.
    fn key(&self) -> Option<String>;

    /// What the task is about, for logs (a certificate id, a delivery id).
    fn subject(&self) -> String;
}

/// Tuning for a [`JobQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// How often an idle worker looks for due tasks.
    pub poll_interval: Duration,
    /// The delay before retrying a failed attempt.
    pub backoff: Backoff,
    /// Attempts after which a failing task is given up (`None`: retried for ever).
    pub max_attempts: Option<u32>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            backoff: Backoff {
                base: Duration::from_secs(60),
                max: Duration::from_secs(6 * 3600),
            },
            max_attempts: None,
        }
    }
}

/// What is stored per task: the task and its exact due time (apalis' `run_at` is whole seconds).
/// Public only so the admin dashboard can show (and, behind auth, push) the queue's tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored<T> {
    #[serde(flatten)]
    task: T,
    /// Unix milliseconds before which the handler is not called.
    not_before_ms: i64,
}

impl<T> Stored<T> {
    /// `task`, due at `run_at`.
    pub(crate) fn new(task: T, run_at: OffsetDateTime) -> Self {
        Self {
            task,
            not_before_ms: due_ms(run_at),
        }
    }

    /// When it is due, in unix milliseconds.
    pub(crate) fn not_before_ms(&self) -> i64 {
        self.not_before_ms
    }
}

/// A queue's apalis storage, for the admin dashboard ([`JobQueue::storage`]).
pub enum Storage<T> {
    Sqlite(SqliteStorage<Stored<T>>),
    Postgres(PostgresStorage<Stored<T>>),
}

impl<T> Clone for Storage<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Sqlite(storage) => Self::Sqlite(storage.clone()),
            Self::Postgres(storage) => Self::Postgres(storage.clone()),
        }
    }
}

/// One durable queue of `T` tasks: schedules delayed tasks and runs workers.
pub struct JobQueue<T> {
    storage: Storage<T>,
    database: JobDatabase,
    /// Woken when a task due now is inserted (PostgreSQL's LISTEN/NOTIFY).
    wake: Option<Arc<Notify>>,
    options: QueueOptions,
    /// Told of every failed attempt once its retry is stored (set once, shared by clones).
    on_failure: Arc<OnceLock<FailureHook<T>>>,
    /// When set, workers poll apalis only when it says a task is due ([`crate::due_gate`]).
    due_probe: Arc<OnceLock<DueProbe>>,
    /// This queue's running and finished tasks, which keep a gated worker polling.
    activity: Arc<Activity>,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for JobQueue<T> {
    fn clone(&self) -> Self {
        Self {
            storage: self.storage.clone(),
            database: self.database.clone(),
            wake: self.wake.clone(),
            options: self.options,
            on_failure: self.on_failure.clone(),
            due_probe: self.due_probe.clone(),
            activity: self.activity.clone(),
            kind: PhantomData,
        }
    }
}

/// A failed attempt, as reported to the [`JobQueue::on_failure`] hook.
#[derive(Debug, Clone)]
pub struct FailedAttempt<T> {
    /// The attempt that failed.
    pub task: T,
    pub reason: String,
    /// When the next attempt is due (the stored retry's exact due time); `None` when the task
    /// has used up [`QueueOptions::max_attempts`] and is given up.
    pub next_attempt_at: Option<OffsetDateTime>,
}

type FailureHook<T> = Arc<dyn Fn(FailedAttempt<T>) + Send + Sync>;

impl<T: Job> fmt::Debug for JobQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobQueue")
            .field("queue", &T::QUEUE)
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

impl<T: Job> JobQueue<T> {
    /// The queue of `T` tasks in `database`.
    pub fn open(database: &JobDatabase, options: QueueOptions) -> Self {
        let (storage, wake) = match &database.backend {
            Backend::Sqlite(pool) => {
                let config = apalis_sqlite::Config::default().queue(T::QUEUE);
                (
                    Storage::Sqlite(SqliteStorage::new(pool).with_config(config)),
                    None,
                )
            }
            Backend::Postgres(pool, wakers) => {
                let config = apalis_postgres::Config::default().queue(T::QUEUE);
                (
                    Storage::Postgres(PostgresStorage::new(pool).with_config(config)),
                    Some(wakers.for_queue(T::QUEUE)),
                )
            }
        };
        Self {
            storage,
            database: database.clone(),
            wake,
            options,
            on_failure: Arc::default(),
            due_probe: Arc::default(),
            activity: Arc::default(),
            kind: PhantomData,
        }
    }

    /// Opens `database_url` and the queue of `T` tasks in it (tests and tools; the service
    /// shares one [`JobDatabase`] between its queues).
    pub async fn connect_with(database_url: &str, options: QueueOptions) -> Result<Self, Error> {
        Ok(Self::open(
            &JobDatabase::connect(database_url).await?,
            options,
        ))
    }

    /// Registers the hook told of each failed attempt after its retry is stored (e.g. to record
    /// a `certificate.renewal_failed` event with the exact next attempt time). Only the first
    /// registration counts.
    pub fn on_failure(&self, hook: impl Fn(FailedAttempt<T>) + Send + Sync + 'static) {
        let _ = self.on_failure.set(Arc::new(hook));
    }

    /// Gates the workers' polls behind `probe` ([`crate::due_gate`]): every poll interval the
    /// probe is asked whether a task is due, and apalis is polled only then (and every
    /// [`crate::due_gate::FALLBACK`]). Set it before [`JobQueue::run`]; only the first call
    /// counts. Without one, workers on SQLite are gated by [`JobDatabase::task_due`] and
    /// workers on PostgreSQL poll apalis every interval (its fetch is an index range there).
    pub fn gate_polls(&self, probe: DueProbe) {
        let _ = self.due_probe.set(probe);
    }

    /// The database the queue lives in.
    pub fn database(&self) -> &JobDatabase {
        &self.database
    }

    /// The probe gating this queue's workers, if any (see [`JobQueue::gate_polls`]).
    fn probe(&self) -> Option<DueProbe> {
        if let Some(probe) = self.due_probe.get() {
            return Some(probe.clone());
        }
        match self.database.backend {
            Backend::Sqlite(_) => {
                let database = self.database.clone();
                Some(Arc::new(move |queue| {
                    let database = database.clone();
                    // On doubt, poll: an error costs one apalis fetch, a skip would delay a task.
                    Box::pin(async move { database.task_due(queue).await.unwrap_or(true) })
                }))
            }
            Backend::Postgres(..) => None,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.storage {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// The apalis storage behind the queue (a cheap clone sharing its pool), for the admin job
    /// dashboard. Scheduling goes through [`JobQueue::schedule`].
    pub fn storage(&self) -> Storage<T> {
        self.storage.clone()
    }

    /// The options the queue was opened with.
    pub fn options(&self) -> &QueueOptions {
        &self.options
    }

    /// Stores `task` to run at `run_at` (at once if that has passed), under its
    /// [`Job::key`]. Durable: it survives restarts and is handed to exactly one worker.
    pub async fn schedule(&self, task: T, run_at: OffsetDateTime) -> Result<(), Error> {
        let key = task.key();
        self.push(Stored::new(task, run_at), key).await
    }

    async fn push(&self, stored: Stored<T>, idempotency_key: Option<String>) -> Result<(), Error> {
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
        H: Fn(T) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let queue = self.clone();
        tokio::spawn(queue.work(handler, shutdown))
    }

    async fn work<H, Fut>(self, handler: H, shutdown: watch::Receiver<bool>)
    where
        H: Fn(T) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let mut crashes = 0u32;
        // With a probe, apalis' own interval is only a safety net and the gate wakes the worker.
        let (interval, gate) = match self.probe() {
            Some(probe) => {
                let gate = Arc::new(Notify::new());
                tokio::spawn(crate::due_gate::run(
                    T::QUEUE,
                    probe,
                    self.activity.clone(),
                    self.options.poll_interval,
                    gate.clone(),
                    shutdown.clone(),
                ));
                (crate::due_gate::FALLBACK, Some(gate))
            }
            None => (self.options.poll_interval, None),
        };
        let wakes: Vec<Arc<Notify>> = self.wake.iter().chain(gate.iter()).cloned().collect();
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Registration is refused while a worker of the same name looks alive.
            let name = format!("{}-{:016x}", T::QUEUE, rand::random::<u64>());
            let service = {
                let queue = self.clone();
                let handler = handler.clone();
                move |stored: Stored<T>, id: TaskId| {
                    let queue = queue.clone();
                    let handler = handler.clone();
                    async move {
                        let _running = queue.activity.start();
                        queue.attempt(handler, stored, id).await
                    }
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
            tracing::debug!(worker = %name, backend = self.backend(), "job worker starting");
            let result = match &self.storage {
                Storage::Sqlite(storage) => {
                    WorkerBuilder::new(name.as_str())
                        .backend(
                            storage
                                .clone()
                                .poll_with_strategy(Tick::new(interval, &wakes)),
                        )
                        .build(service)
                        .run_until(stop)
                        .await
                }
                Storage::Postgres(storage) => {
                    WorkerBuilder::new(name.as_str())
                        .backend(
                            storage
                                .clone()
                                .poll_with_strategy(Tick::new(interval, &wakes)),
                        )
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
                    let mut shutdown = shutdown.clone();
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
    async fn attempt<H, Fut>(&self, handler: H, stored: Stored<T>, id: TaskId) -> Result<(), Error>
    where
        H: Fn(T) -> Fut,
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
                tracing::debug!(queue = T::QUEUE, subject = %task.subject(), attempt = task.attempt(), "job done");
                return Ok(());
            }
            Err(error) => error,
        };
        let next = task.next_attempt();
        let give_up = self
            .options
            .max_attempts
            .is_some_and(|max| next.attempt() >= max);
        let next_at = if give_up {
            tracing::warn!(
                queue = T::QUEUE,
                subject = %task.subject(),
                attempt = task.attempt(),
                %error,
                "job attempt failed; giving up"
            );
            None
        } else {
            let delay = self
                .options
                .backoff
                .delay(task.attempt(), error.retry_after);
            let next_at = OffsetDateTime::now_utc() + delay;
            tracing::warn!(
                queue = T::QUEUE,
                subject = %task.subject(),
                attempt = task.attempt(),
                %error,
                next_attempt_at = %next_at,
                "job attempt failed; retrying later"
            );
            // Keyed by the task's own key when it has one, else by the failed task's id: a
            // re-run of the failed attempt does not start a second chain of retries.
            let key = next.key().unwrap_or_else(|| format!("retry-of:{id}"));
            self.push(Stored::new(next, next_at), Some(key)).await?;
            Some(next_at)
        };
        if let Some(hook) = self.on_failure.get() {
            hook(FailedAttempt {
                task,
                reason: error.message.clone(),
                next_attempt_at: next_at,
            });
        }
        Ok(())
    }
}

/// Wakes the worker every `interval` so it fetches tasks that have come due, and at once when
/// one of `wakes` is notified (a task due now was inserted, or the due gate saw one).
struct Tick {
    ticks: tokio::time::Interval,
    wakes: Vec<(Arc<Notify>, Pin<Box<OwnedNotified>>)>,
}

impl Tick {
    fn new(interval: Duration, wakes: &[Arc<Notify>]) -> Self {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            ticks,
            wakes: wakes
                .iter()
                .map(|notify| {
                    let notified = Box::pin(notify.clone().notified_owned());
                    (notify.clone(), notified)
                })
                .collect(),
        }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        // Poll until Pending, so the next tick and notification are always registered with
        // the waker.
        let mut ticked = false;
        while self.ticks.poll_tick(cx).is_ready() {
            ticked = true;
        }
        for (notify, notified) in &mut self.wakes {
            while notified.as_mut().poll(cx).is_ready() {
                ticked = true;
                *notified = Box::pin(notify.clone().notified_owned());
            }
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

/// A due time in whole milliseconds, rounded *up*: a worker that waits until the clock's
/// millisecond reaches it never runs the task before `at` (rounding down could run it up to
/// 1 ms early).
fn due_ms(at: OffsetDateTime) -> i64 {
    let nanos = at.unix_timestamp_nanos();
    let ms = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn sink_error<E: fmt::Display>(error: TaskSinkError<E>, wrap: fn(E) -> Error) -> Error {
    match error {
        TaskSinkError::PushError(e) => wrap(e),
        other => Error::Enqueue(other.to_string()),
    }
}
