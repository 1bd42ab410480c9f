//! The `Store` on SQLite (embedded default) and PostgreSQL (several instances).
//!
//! Both backends run the same SQL: the statements use `$N` placeholders, which sqlx binds on
//! SQLite as well, and portable types (TEXT, BIGINT unix milliseconds, BLOB/BYTEA). The one
//! implementation is expanded for each pool type by [`queries`], so a rule changed there changes
//! for both backends at once. Only pool set-up and migrations differ, in [`sqlite`] and
//! [`postgres`].

#[macro_use]
mod orders_sql;
#[macro_use]
mod certificates_sql;
#[macro_use]
mod dns_sql;
#[macro_use]
mod events_sql;
#[macro_use]
mod revocation_sql;
#[macro_use]
mod jobs_sql;
#[macro_use]
mod webhooks_sql;
#[macro_use]
mod renewal_sql;
#[macro_use]
mod ledger_sql;
#[macro_use]
mod leases_sql;
#[macro_use]
mod metrics_sql;
mod error;
mod postgres;
mod queries;
mod sqlite;

use std::sync::Arc;

use scaivault_domain::SharedStore;

pub use error::Error;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The table where the service's own migrations are recorded, apart from `_sqlx_migrations`
/// which the job queue's storage uses for its own.
pub(crate) const MIGRATIONS_TABLE: &str = "scaivault_migrations";

/// Opens the store named by `url` (`sqlite://...` or `postgres://...`) and applies migrations.
pub async fn connect(url: &str) -> Result<SharedStore, Error> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(Error::UnsupportedUrl)
    }
}
