//! The database the queues live in: the service's own database, on the pool the store opened
//! (one pool per database), with apalis' migrations applied. apalis records those in
//! `_sqlx_migrations` (on PostgreSQL in its own schema, `apalis._sqlx_migrations`); the
//! service's migrations are recorded in `scaivault_migrations`, so the two migrators never see
//! each other's versions. Only apalis' migrator runs here: `SqliteStorage::setup` would also set
//! `PRAGMA synchronous = OFF` on whichever pooled connection ran it.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::Deserialize;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::Error;

/// The job queues' database. On PostgreSQL it also holds one `LISTEN` connection that wakes a
/// queue's worker as soon as a task due now is inserted (by this instance or any other), instead
/// of at its next poll.
#[derive(Clone, Debug)]
pub struct JobDatabase {
    pub(crate) backend: Backend,
}

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool, Wakers),
}

impl JobDatabase {
    /// The queues on the service's SQLite pool; applies apalis' migrations.
    pub async fn sqlite(pool: SqlitePool) -> Result<Self, Error> {
        SqliteStorage::migrations().run(&pool).await?;
        Ok(Self {
            backend: Backend::Sqlite(pool),
        })
    }

    /// The queues on the service's PostgreSQL pool; applies apalis' migrations (under sqlx'
    /// advisory lock, so instances starting together migrate once) and starts listening for
    /// inserted tasks.
    pub async fn postgres(pool: PgPool) -> Result<Self, Error> {
        PostgresStorage::migrations().run(&pool).await?;
        let wakers = Wakers::default();
        tokio::spawn(wakers.clone().listen(pool.clone()));
        Ok(Self {
            backend: Backend::Postgres(pool, wakers),
        })
    }

    /// Opens `database_url` on a pool of its own: for tools and tests that look at the queues
    /// from outside the service.
    pub async fn connect(database_url: &str) -> Result<Self, Error> {
        if database_url.starts_with("sqlite:") {
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
            Self::sqlite(pool).await
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(database_url)
                .await?;
            Self::postgres(pool).await
        } else {
            Err(Error::UnsupportedUrl)
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(..) => "postgres",
        }
    }
}

/// Per queue name, the [`Notify`] its worker waits on besides its poll interval.
#[derive(Clone, Debug, Default)]
pub(crate) struct Wakers(Arc<std::sync::Mutex<HashMap<String, Arc<Notify>>>>);

/// The channel apalis-postgres' insert trigger notifies.
const INSERT_CHANNEL: &str = "apalis::job::insert";

impl Wakers {
    pub(crate) fn for_queue(&self, queue: &str) -> Arc<Notify> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(queue.to_owned()).or_default().clone()
    }

    fn wake(&self, queue: &str) {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(notify) = map.get(queue) {
            // A permit is kept when the worker is busy, so the next poll comes at once.
            notify.notify_one();
        }
    }

    /// Listens to apalis' insert notifications (its trigger sends `{job_type, id, run_at}` on
    /// `apalis::job::insert` for tasks due now) until the pool closes; reconnects after errors.
    async fn listen(self, pool: PgPool) {
        #[derive(Deserialize)]
        struct Inserted {
            job_type: String,
        }
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(error) if pool.is_closed() => {
                    tracing::debug!(%error, "job notifications stopped");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for job notifications; polling only");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen(INSERT_CHANNEL).await {
                tracing::warn!(%error, "cannot listen for job notifications; polling only");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            loop {
                match listener.recv().await {
                    Ok(notification) => {
                        if let Ok(inserted) =
                            serde_json::from_str::<Inserted>(notification.payload())
                        {
                            self.wake(&inserted.job_type);
                        }
                    }
                    Err(error) => {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(%error, "job notifications interrupted; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    }
}
