//! PostgreSQL: for several instances sharing one database.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgConnection, Pool, Postgres, Transaction};

use crate::dialect::Dialect;
use crate::{Error, MIGRATIONS_TABLE};

/// Connections of the pool, which the job queue shares (its notification listener holds one).
const POOL_SIZE: u32 = 24;

impl Dialect for Postgres {
    const BACKEND: &'static str = "postgres";

    /// The migrator takes an advisory lock, so instances starting together apply each
    /// migration once.
    async fn open(url: &str) -> Result<Pool<Self>, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(Error::Connect)?;
        let mut migrator = sqlx::migrate!("../migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(pool)
    }

    /// Nothing special: row locks and READ COMMITTED (SQLite's twin takes its write lock up
    /// front).
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin().await
    }

    fn on_pool(pool: &Pool<Self>) -> impl for<'c> Executor<'c, Database = Self> + Send + Copy {
        pool
    }

    fn on_conn(conn: &mut PgConnection) -> impl Executor<'_, Database = Self> {
        conn
    }
}
