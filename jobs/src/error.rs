//! The jobs crate's errors: [`Error`] for the queue itself (opening, migrating, enqueueing),
//! [`JobError`] for a handler's failed attempt.

use std::fmt;
use std::time::Duration;

/// A failure of the job queue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL: expected sqlite:... or postgres://...")]
    UnsupportedUrl,
    /// The directory for a SQLite file cannot be created.
    #[error("cannot create directory {path}: {source}")]
    Directory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Connecting or querying failed.
    #[error("job queue database: {0}")]
    Database(#[from] sqlx::Error),
    /// The queue's own migrations (apalis') cannot be applied.
    #[error("cannot apply the job queue's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The SQLite storage refused a task.
    #[error("cannot enqueue task: {0}")]
    Sqlite(#[source] apalis_sqlite::Error),
    /// The PostgreSQL storage refused a task.
    #[error("cannot enqueue task: {0}")]
    Postgres(#[source] apalis_postgres::Error),
    /// The task could not be encoded or handed to the storage.
    #[error("cannot enqueue task: {0}")]
    Enqueue(String),
    /// The service's store failed (reading what to schedule).
    #[error(transparent)]
    Store(Box<scaivault_domain::Error>),
}

/// A handler's failed attempt. The queue retries it as a new delayed task, after the backoff
/// delay for its attempt and never sooner than `retry_after` (a server's `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl JobError {
    /// A failure with no server-imposed wait.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retry_after: None,
        }
    }

    /// A failure that must not be retried before `retry_after` has passed.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {}s)", after.as_secs_f64())?;
        }
        Ok(())
    }
}

impl std::error::Error for JobError {}
