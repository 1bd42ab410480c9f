//! PostgreSQL: for several instances sharing one database.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::Error;

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// Connects and migrates (the migrator takes an advisory lock, so instances starting
    /// together apply each migration once).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(Error::Connect)?;
        let mut migrator = sqlx::migrate!("../migrations/postgres");
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    /// A transaction that writes. PostgreSQL needs nothing special (row locks and READ
    /// COMMITTED); the SQLite store's twin takes its write lock up front.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}
