//! The store crate's error (opening a database and migrating it), and how query failures cross
//! the store traits: as the domain's error, their kind kept and the sqlx error as the source.

use scaivault_domain::StoreFailure;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database url must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the database file {path} private (mode 0600): {source}")]
    FileMode {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A query failure as the domain's error: a unique violation is a conflict the caller can act
/// on; anything else is a store failure of the kind sqlx reports, with sqlx's error kept.
pub(crate) fn query_error(err: sqlx::Error) -> scaivault_domain::Error {
    use sqlx::Error as E;
    let kind = match &err {
        E::Database(db) if db.is_unique_violation() => {
            return scaivault_domain::Error::Conflict(
                "a record with that name already exists".into(),
            );
        }
        E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => StoreFailure::Unavailable,
        E::Io(_) | E::Tls(_) | E::Protocol(_) => StoreFailure::Connection,
        E::ColumnDecode { .. } | E::Decode(_) | E::ColumnNotFound(_) | E::Encode(_) => {
            StoreFailure::Data
        }
        _ => StoreFailure::Query,
    };
    scaivault_domain::Error::store(kind, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_failures_keep_their_kind_and_source() {
        let kind = |err: sqlx::Error| query_error(err).store_failure();
        assert_eq!(
            kind(sqlx::Error::PoolTimedOut),
            Some(StoreFailure::Unavailable)
        );
        assert_eq!(
            kind(sqlx::Error::PoolClosed),
            Some(StoreFailure::Unavailable)
        );
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert_eq!(kind(sqlx::Error::Io(reset)), Some(StoreFailure::Connection));
        assert_eq!(
            kind(sqlx::Error::ColumnNotFound("status".into())),
            Some(StoreFailure::Data)
        );
        assert_eq!(kind(sqlx::Error::RowNotFound), Some(StoreFailure::Query));

        let err = query_error(sqlx::Error::PoolTimedOut);
        let source = std::error::Error::source(&err).expect("the sqlx error is kept");
        assert!(source.to_string().contains("timed out"), "{source}");
    }
}
