//! ACME accounts with their sealed credentials.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{AccountRecord, AccountStatus};
use crate::{Error, Result};

#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Stores a new account with its sealed credentials; `Error::Conflict` when the name is
    /// taken.
    async fn insert_account(
        &self,
        account: &AccountRecord,
        sealed_credentials: &[u8],
    ) -> Result<()>;
    /// The account with this id.
    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>>;
    /// The account with this id, or `Error::NotFound`.
    async fn require_account(&self, id: &str) -> Result<AccountRecord> {
        self.get_account(id)
            .await?
            .ok_or_else(|| Error::not_found("account", id))
    }
    /// Every account, newest first.
    async fn list_accounts(&self) -> Result<Vec<AccountRecord>>;
    /// A page of accounts, newest first: at most `limit`, strictly older than the
    /// `(created_at millis, id)` cursor `before`.
    async fn accounts_page(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<AccountRecord>>;
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
