//! The dns-01 TXT records orders wrote, kept until they are removed again.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::dns_provider::DnsChallengeRecord;

#[async_trait]
pub trait DnsRecordStore: Send + Sync + std::fmt::Debug {
    /// Records that an order is about to write `record` (state `present`), before the write, so
    /// a crash in between still leaves a record to clean up.
    async fn upsert_dns_record(&self, record: &DnsChallengeRecord) -> Result<()>;
    /// The TXT records an order wrote.
    async fn order_dns_records(&self, order_id: &str) -> Result<Vec<DnsChallengeRecord>>;
    /// Records the outcome of a removal attempt: `removed`, or `remove_failed` with the error
    /// and when to try again.
    async fn set_dns_record_state(
        &self,
        order_id: &str,
        domain: &str,
        state: &str,
        error: Option<&str>,
        next_try_at: OffsetDateTime,
    ) -> Result<()>;
    /// Records of final orders not yet removed whose next try is due (cleanup after failures
    /// and restarts).
    async fn due_dns_cleanups(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DnsChallengeRecord>>;
}
