//! The one storage interface. SQLite and PostgreSQL implement it in the `store` crate, and the
//! same conformance suite runs against both, so the rest of the service never sees SQL.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::account::{AccountRecord, AccountStatus};
use crate::secret::SecretRecord;
use crate::token::TokenRecord;

/// A store shared by every part of the service.
pub type SharedStore = Arc<dyn Store>;

/// Persistence for every record the service keeps.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<()>;
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Sets `key` to `value` only if it has no value yet; `true` when this call set it. Atomic,
    /// so when several instances start together exactly one wins (e.g. the bootstrap token).
    async fn set_meta_if_absent(&self, key: &str, value: &str) -> Result<bool>;
    /// The value of `key`.
    async fn get_meta(&self, key: &str) -> Result<Option<String>>;

    /// Stores a new token.
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// The token with this id.
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// Every token, newest first.
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Deletes a token; `false` when there was none.
    async fn delete_token(&self, id: &str) -> Result<bool>;

    /// Creates or replaces the secret at `record.path`; returns the stored record with its
    /// version (1 when created, incremented on each replacement) and created_at kept.
    async fn put_secret(&self, record: &SecretRecord) -> Result<SecretRecord>;
    /// The secret at `path`.
    async fn get_secret(&self, path: &str) -> Result<Option<SecretRecord>>;
    /// Deletes the secret at `path`; `false` when there was none.
    async fn delete_secret(&self, path: &str) -> Result<bool>;

    /// Stores a new account with its sealed credentials; `Error::Conflict` when the name is
    /// taken.
    async fn insert_account(
        &self,
        account: &AccountRecord,
        sealed_credentials: &[u8],
    ) -> Result<()>;
    /// The account with this id.
    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>>;
    /// Every account, newest first.
    async fn list_accounts(&self) -> Result<Vec<AccountRecord>>;
    /// The account's sealed credentials.
    async fn account_credentials(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Records a status change; `false` when there is no such account.
    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        at: OffsetDateTime,
    ) -> Result<bool>;
}
