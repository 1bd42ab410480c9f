//! The store itself: a pool of one backend.

use std::fmt;

use sqlx::{Executor, Pool, Transaction};

use crate::dialect::Dialect;
use crate::error::query_error;

/// Every aggregate's statements over a pool of `D`.
pub(crate) struct SqlStore<D: Dialect> {
    pool: Pool<D>,
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &D::BACKEND)
            .finish()
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Opens and migrates the database at `url`.
    pub(crate) async fn open(url: &str) -> Result<Self, crate::Error> {
        Ok(Self {
            pool: D::open(url).await?,
        })
    }

    pub(crate) fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// The pool as an executor, for statements outside a transaction.
    pub(crate) fn on_pool(&self) -> impl for<'c> Executor<'c, Database = D> + Send + Copy + '_ {
        D::on_pool(&self.pool)
    }

    /// A transaction that writes (see [`Dialect::begin_write`]).
    pub(crate) async fn begin_write(&self) -> scaivault_domain::Result<Transaction<'static, D>> {
        D::begin_write(&self.pool).await.map_err(query_error)
    }
}

/// Commits `tx`, as the domain's error.
pub(crate) async fn commit<D: Dialect>(
    tx: Transaction<'static, D>,
) -> scaivault_domain::Result<()> {
    tx.commit().await.map_err(query_error)
}
