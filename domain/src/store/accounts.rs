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
    /// Replaces the account's contact email; `false` when there is no such account.
    async fn set_account_email(&self, id: &str, email: &str) -> Result<bool>;
    /// Records the thumbprint of the current key of an account stored without one (an older
    /// record); a recorded thumbprint is left as it is.
    async fn fill_account_key_thumbprint(&self, id: &str, thumbprint: &str) -> Result<()>;
    /// Stores a new key's sealed credentials as the account's pending key, before the CA is
    /// asked to change keys (RFC 8555 §7.3.5); replaces an earlier pending key. `false` when
    /// there is no such account.
    async fn set_pending_account_key(&self, id: &str, sealed_credentials: &[u8]) -> Result<bool>;
    /// The account's pending key's sealed credentials, if a key change was begun and not
    /// resolved.
    async fn pending_account_key(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Makes `sealed_credentials` (the new key the CA now holds) the account's credentials and
    /// clears its pending key, in one statement, recording the key's `thumbprint` and `at`.
    /// `false` when there is no such account.
    async fn promote_account_key(
        &self,
        id: &str,
        sealed_credentials: &[u8],
        thumbprint: &str,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Drops the pending key (the CA never took it); the current credentials stay.
    async fn clear_pending_account_key(&self, id: &str) -> Result<()>;
    /// Records a status change; `false` when there is no such account.
    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        at: OffsetDateTime,
    ) -> Result<bool>;
}
