//! The local rate-limit ledger (see `rate_limit`).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::rate_limit::{LedgerEntry, LedgerKey};

#[async_trait]
pub trait LedgerStore: Send + Sync + std::fmt::Debug {
    /// Appends ledger entries, all or none.
    async fn insert_ledger_entries(&self, entries: &[LedgerEntry]) -> Result<()>;
    /// The times of `key`'s entries later than `after`, oldest first.
    async fn ledger_times(
        &self,
        key: &LedgerKey,
        after: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>>;
    /// Deletes `scope`'s entries at or before `before`; how many.
    async fn prune_ledger(&self, scope: &str, before: OffsetDateTime) -> Result<u64>;
    /// The account's authorizations still pending at the CA: the challenges not yet valid or
    /// invalid of its orders in status `pending`.
    async fn pending_authorizations(&self, account_id: &str) -> Result<u32>;
}
