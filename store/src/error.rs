//! The store crate's error: opening a database and migrating it. Query failures are reported
//! through the domain's error, since they cross the `Store` trait.

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database url must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Maps a query failure onto the domain's error: a unique violation is a conflict the caller
/// can act on; anything else is a store failure for the logs.
pub(crate) fn query_error(err: sqlx::Error) -> scaivault_domain::Error {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            scaivault_domain::Error::Conflict("a record with that name already exists".into())
        }
        _ => scaivault_domain::Error::Store(err.to_string()),
    }
}
