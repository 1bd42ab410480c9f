//! SQLite: the embedded default. WAL lets readers run beside the one writer, and a busy timeout
//! makes concurrent writers wait instead of failing with SQLITE_BUSY.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, Pool, Sqlite, SqliteConnection, Transaction};

use crate::dialect::Dialect;
use crate::{Error, MIGRATIONS_TABLE};

/// Connections of the pool, which the job queue shares: enough for readers beside the one
/// writer and the queue's polls.
const POOL_SIZE: u32 = 12;

impl Dialect for Sqlite {
    const BACKEND: &'static str = "sqlite";

    /// Creates the file and its directory if needed.
    async fn open(url: &str) -> Result<Pool<Self>, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(Error::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(Error::Connect)?;
        let mut migrator = sqlx::migrate!("../migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(pool)
    }

    /// `BEGIN IMMEDIATE` takes the write lock at once, waiting out the busy timeout for it. A
    /// deferred transaction that reads first and writes later is refused with `SQLITE_BUSY`
    /// ("database is locked") *without* waiting when another connection wrote in between,
    /// because SQLite cannot upgrade its read snapshot
    /// (<https://www.sqlite.org/lang_transaction.html>, "Read transactions versus write
    /// transactions").
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    fn on_pool(pool: &Pool<Self>) -> impl for<'c> Executor<'c, Database = Self> + Send + Copy {
        pool
    }

    fn on_conn(conn: &mut SqliteConnection) -> impl Executor<'_, Database = Self> {
        conn
    }
}
