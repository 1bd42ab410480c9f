//! DNS providers (dns-01): their type and configuration, secrets referenced by path.

use async_trait::async_trait;

use crate::Result;
use crate::dns_provider::DnsProviderRecord;

#[async_trait]
pub trait DnsProviderStore: Send + Sync + std::fmt::Debug {
    /// Stores a DNS provider; `Error::Conflict` when the name is taken.
    async fn insert_dns_provider(&self, provider: &DnsProviderRecord) -> Result<()>;
    /// The DNS provider with this id.
    async fn get_dns_provider(&self, id: &str) -> Result<Option<DnsProviderRecord>>;
    /// Every DNS provider, newest first.
    async fn list_dns_providers(&self) -> Result<Vec<DnsProviderRecord>>;
    /// A page of DNS providers, newest first: at most `limit`, strictly older than the
    /// `(created_at millis, id)` cursor `before`.
    async fn dns_providers_page(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<DnsProviderRecord>>;
    /// Deletes a DNS provider unless an unfinished order uses it (`Error::Conflict`), atomically;
    /// `false` when there was none.
    async fn delete_dns_provider(&self, id: &str) -> Result<bool>;
}
