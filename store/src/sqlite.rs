//! SQLite: the embedded default. WAL lets readers run beside the one writer, and a busy timeout
//! makes concurrent writers wait instead of failing with SQLITE_BUSY.
//!
//! The database holds sealed secrets but also everything else in clear (names, certificates,
//! token hashes), so its directory and files are the service user's alone whatever the umask.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
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
        if !in_memory(url) {
            prepare_files(options.get_filename())?;
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

/// Whether `url` names an in-memory database, which has no files.
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the database's directory (0700) and file (0600) if they are missing, and takes group
/// and other access away from an existing file and its -wal and -shm files. SQLite creates the
/// -wal and -shm files with the database file's mode, so they follow it.
fn prepare_files(db: &Path) -> Result<(), Error> {
    if let Some(dir) = db.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| Error::Directory {
                path: dir.display().to_string(),
                source,
            })?;
    }
    let file_mode = |path: &Path, source| Error::FileMode {
        path: path.display().to_string(),
        source,
    };
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => return Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(file_mode(db, err)),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, Permissions::from_mode(0o600))
                .map_err(|err| file_mode(path, err))?;
        }
    }
    Ok(())
}
