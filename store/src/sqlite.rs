//! SQLite: the embedded default. WAL lets readers run beside the one writer, and a busy timeout
//! makes concurrent writers wait instead of failing with SQLITE_BUSY.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::Error;

/// The store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates.
    pub async fn connect(url: &str) -> Result<Self, Error> {
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
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(Error::Connect)?;
        let mut migrator = sqlx::migrate!("../migrations/sqlite");
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    /// A transaction that writes: `BEGIN IMMEDIATE` takes the write lock at once, waiting out
    /// the busy timeout for it. A deferred transaction that reads first and writes later is
    /// refused with `SQLITE_BUSY` ("database is locked") *without* waiting when another
    /// connection wrote in between, because SQLite cannot upgrade its read snapshot
    /// (<https://www.sqlite.org/lang_transaction.html>, "Read transactions versus write
    /// transactions"). Found by schemathesis on `DELETE /v1/pki/dns-providers/{id}`.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}
