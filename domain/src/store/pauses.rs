//! Accounts a CA paused for some identifiers (see `pause`).

use async_trait::async_trait;

use crate::Result;
use crate::pause::AccountPause;

#[async_trait]
pub trait PauseStore: Send + Sync + std::fmt::Debug {
    /// Records that the CA refused these (account, identifier) pairs: a new pair is stored as
    /// given; a known one keeps its `paused_at` and takes the new `unpause_url` and
    /// `checked_at`. All or none.
    async fn record_pauses(&self, pauses: &[AccountPause]) -> Result<()>;
    /// The account's pauses, by identifier.
    async fn account_pauses(&self, account_id: &str) -> Result<Vec<AccountPause>>;
    /// Clears the account's pauses for `identifiers` (every one when `None`); how many.
    async fn clear_pauses(&self, account_id: &str, identifiers: Option<&[String]>) -> Result<u64>;
}
