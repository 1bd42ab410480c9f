//! What the one SQL implementation needs of a backend, and the few things that differ.
//!
//! The statements are shared: both backends run the same SQL (`$N` placeholders, which sqlx
//! binds on SQLite as well; portable types: TEXT, BIGINT unix milliseconds, BLOB/BYTEA). What
//! differs is how a pool is opened and migrated ([`Dialect::open`]) and how a transaction that
//! writes begins ([`Dialect::begin_write`]); SQLite and PostgreSQL each implement [`Dialect`]
//! in their own module.
//!
//! sqlx states "this backend can bind an `i64`" as a bound on `i64`, which Rust does not carry
//! from a trait to its users (only supertraits are implied). So the capabilities the shared
//! code uses are supertraits here instead, each with a method: [`Binds`] binds a `T`,
//! [`Reads<T>`] decodes a row into a `T`; both are implemented for every backend sqlx supports
//! them on, and the generic code calls them through [`Statement`]. The list below is therefore
//! exactly the set of parameter and row types the store uses.

use std::future::Future;

use scaivault_domain::Result;
use sqlx::query::Query;
use sqlx::{Database, Executor, FromRow, IntoArguments, Pool, Transaction};

use crate::error::query_error;

use crate::rows::{
    AccountRow, CertificateRow, ChallengeRow, DeliveryAttemptRow, DeliveryRow, DnsProviderRow,
    DnsRecordRow, EventRow, ExpiryRow, LeaseRow, OrderRow, OrderWithChallengeRow, PauseRow,
    RevocationRow, SecretInfoRow, SecretRow, TokenRow, VersionRow, WebhookRow,
};

/// A backend the store's SQL runs on.
pub(crate) trait Dialect:
    Database<Arguments: IntoArguments<Self>, QueryResult: RowsAffected>
    + for<'a> Binds<'a, i64>
    + for<'a> Binds<'a, Option<i64>>
    + for<'a> Binds<'a, String>
    + for<'a> Binds<'a, &'a str>
    + for<'a> Binds<'a, Option<&'a str>>
    + for<'a> Binds<'a, &'a [u8]>
    + for<'a> Binds<'a, Option<&'a [u8]>>
    + Reads<(i64,)>
    + Reads<(String,)>
    + Reads<(Option<Vec<u8>>,)>
    + Reads<(Vec<u8>,)>
    + Reads<(String, i64)>
    + Reads<(String, String)>
    + Reads<(String, i64, i64)>
    + Reads<(String, Vec<u8>)>
    + Reads<(String, i64, Vec<u8>)>
    + Reads<(Option<i64>, Option<i64>)>
    + Reads<AccountRow>
    + Reads<CertificateRow>
    + Reads<ChallengeRow>
    + Reads<DeliveryAttemptRow>
    + Reads<DeliveryRow>
    + Reads<DnsProviderRow>
    + Reads<DnsRecordRow>
    + Reads<EventRow>
    + Reads<ExpiryRow>
    + Reads<LeaseRow>
    + Reads<OrderRow>
    + Reads<OrderWithChallengeRow>
    + Reads<PauseRow>
    + Reads<RevocationRow>
    + Reads<SecretInfoRow>
    + Reads<SecretRow>
    + Reads<TokenRow>
    + Reads<VersionRow>
    + Reads<WebhookRow>
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    const BACKEND: &'static str;

    /// Opens the database at `url` (creating what the backend creates) and applies the
    /// service's migrations.
    fn open(
        url: &str,
    ) -> impl Future<Output = std::result::Result<Pool<Self>, crate::Error>> + Send;

    /// A transaction that writes.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = std::result::Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// The pool as an executor (`&Pool`, whose `Executor` impl sqlx bounds per backend).
    fn on_pool(pool: &Pool<Self>) -> impl for<'c> Executor<'c, Database = Self> + Send + Copy;

    /// A connection (a transaction's) as an executor.
    fn on_conn(conn: &mut Self::Connection) -> impl Executor<'_, Database = Self>;
}

/// How many rows a statement changed, whatever the backend.
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// The backend binds a `T` (which may borrow for `'t`) as a statement parameter.
pub(crate) trait Binds<'t, T>: Database {
    fn bind_to(
        query: Query<'_, Self, Self::Arguments>,
        value: T,
    ) -> Query<'_, Self, Self::Arguments>;
}

impl<'t, DB: Database, T> Binds<'t, T> for DB
where
    T: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    fn bind_to(
        query: Query<'_, Self, Self::Arguments>,
        value: T,
    ) -> Query<'_, Self, Self::Arguments> {
        query.bind(value)
    }
}

/// The backend decodes a row into a `T`.
pub(crate) trait Reads<T>: Database {
    fn read(row: &Self::Row) -> std::result::Result<T, sqlx::Error>;
}

impl<DB: Database, T> Reads<T> for DB
where
    T: for<'r> FromRow<'r, DB::Row>,
{
    fn read(row: &Self::Row) -> std::result::Result<T, sqlx::Error> {
        T::from_row(row)
    }
}

/// `SELECT .. FROM <table>` completed to one page of its rows, newest first: strictly older than
/// the `(created_at, id)` cursor `$1`, `$2`, at most `$3` rows. Bind them with
/// [`Statement::page`].
macro_rules! newest_first {
    ($select:literal) => {
        concat!(
            $select,
            " WHERE (created_at < $1 OR (created_at = $1 AND id < $2)) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        )
    };
}
pub(crate) use newest_first;

/// A statement of the shared SQL: its parameters bound with [`Statement::arg`], run with
/// [`Statement::run`] or read with [`Statement::rows`], [`Statement::row`], [`Statement::one`].
pub(crate) trait Statement<D: Dialect>: Sized {
    /// Binds the next `$N` parameter.
    fn arg<'t, T>(self, value: T) -> Self
    where
        D: Binds<'t, T>;

    /// Binds the three parameters of a [`newest_first!`] page: the cursor to continue after
    /// (none: from the newest row) and the page size.
    fn page(self, limit: u32, before: Option<(i64, String)>) -> Self
    where
        D: for<'t> Binds<'t, i64> + for<'t> Binds<'t, String>,
    {
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        self.arg(at).arg(id).arg(i64::from(limit))
    }

    /// Runs it; how many rows it changed. Failures of every method are the domain's store error.
    fn run<'e>(
        self,
        on: impl Executor<'e, Database = D> + 'e,
    ) -> impl Future<Output = Result<u64>> + Send + 'e
    where
        Self: 'e;

    /// Every row it returns.
    fn rows<'e, T: Send + 'e>(
        self,
        on: impl Executor<'e, Database = D> + 'e,
    ) -> impl Future<Output = Result<Vec<T>>> + Send + 'e
    where
        D: Reads<T>,
        Self: 'e;

    /// The row it returns, if any.
    fn row<'e, T: Send + 'e>(
        self,
        on: impl Executor<'e, Database = D> + 'e,
    ) -> impl Future<Output = Result<Option<T>>> + Send + 'e
    where
        D: Reads<T>,
        Self: 'e;

    /// The one row it must return.
    fn one<'e, T: Send + 'e>(
        self,
        on: impl Executor<'e, Database = D> + 'e,
    ) -> impl Future<Output = Result<T>> + Send + 'e
    where
        D: Reads<T>,
        Self: 'e;
}

impl<'q, D: Dialect> Statement<D> for Query<'q, D, D::Arguments> {
    fn arg<'t, T>(self, value: T) -> Self
    where
        D: Binds<'t, T>,
    {
        D::bind_to(self, value)
    }

    async fn run<'e>(self, on: impl Executor<'e, Database = D> + 'e) -> Result<u64>
    where
        Self: 'e,
    {
        let done = self.execute(on).await.map_err(query_error)?;
        Ok(done.rows_affected())
    }

    async fn rows<'e, T: Send + 'e>(
        self,
        on: impl Executor<'e, Database = D> + 'e,
    ) -> Result<Vec<T>>
    where
        D: Reads<T>,
        Self: 'e,
    {
        let rows = self.fetch_all(on).await.map_err(query_error)?;
        rows.iter()
            .map(|row| D::read(row).map_err(query_error))
            .collect()
    }

    async fn row<'e, T: Send + 'e>(
        self,
        on: impl Executor<'e, Database = D> + 'e,
    ) -> Result<Option<T>>
    where
        D: Reads<T>,
        Self: 'e,
    {
        let row = self.fetch_optional(on).await.map_err(query_error)?;
        row.as_ref()
            .map(|row| D::read(row).map_err(query_error))
            .transpose()
    }

    async fn one<'e, T: Send + 'e>(self, on: impl Executor<'e, Database = D> + 'e) -> Result<T>
    where
        D: Reads<T>,
        Self: 'e,
    {
        let row = self.fetch_one(on).await.map_err(query_error)?;
        D::read(&row).map_err(query_error)
    }
}
