//! The store on SQLite (embedded default) and PostgreSQL (several instances sharing one database).
//!
//! One SQL implementation serves both: [`SqlStore`] is generic over a [`Dialect`], the backend's
//! small set of differences (opening and migrating a pool, beginning a write transaction). Each
//! aggregate's statements are in a module of its own and implement that aggregate's trait of
//! `scaivault_domain::store`; rows decode through `#[derive(sqlx::FromRow)]` structs ([`rows`])
//! into the domain's records; failures keep sqlx's error as their source and say what kind they
//! are (`scaivault_domain::StoreFailure`).
//!
//! [`open`] also hands out the pool, because the job queue keeps its tables in the same database
//! and shares it (one pool per database).
//!
//! [`Dialect`]: dialect::Dialect

mod accounts;
mod certificates;
mod deliveries;
mod dialect;
mod dns_providers;
mod dns_records;
mod error;
mod events;
mod leases;
mod ledger;
mod meta;
mod orders;
mod pauses;
mod postgres;
mod revocations;
mod rows;
mod sealed;
mod secrets;
mod sql_store;
mod sqlite;
mod tokens;
mod webhooks;

use std::sync::Arc;

use scaivault_domain::SharedStore;

pub use crate::error::Error;
use crate::sql_store::SqlStore;

/// The table where the service's own migrations are recorded, apart from `_sqlx_migrations`
/// which the job queue's storage uses for its own.
pub(crate) const MIGRATIONS_TABLE: &str = "scaivault_migrations";

/// The pool of an opened database, for the job queue that shares it.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// An opened, migrated database: the store over it and its pool.
#[derive(Debug, Clone)]
pub struct Database {
    pub store: SharedStore,
    pub pool: Pool,
}

/// Opens the database named by `url` (`sqlite://...` or `postgres://...`) and applies the
/// service's migrations.
pub async fn open(url: &str) -> Result<Database, Error> {
    if url.starts_with("sqlite:") {
        let store = SqlStore::<sqlx::Sqlite>::open(url).await?;
        let pool = Pool::Sqlite(store.pool().clone());
        Ok(Database {
            store: Arc::new(store),
            pool,
        })
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = SqlStore::<sqlx::Postgres>::open(url).await?;
        let pool = Pool::Postgres(store.pool().clone());
        Ok(Database {
            store: Arc::new(store),
            pool,
        })
    } else {
        Err(Error::UnsupportedUrl)
    }
}

/// The store of the database named by `url` ([`open`] without the pool).
pub async fn connect(url: &str) -> Result<SharedStore, Error> {
    Ok(open(url).await?.store)
}
