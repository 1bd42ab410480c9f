//! Secrets, sealed at rest.

use async_trait::async_trait;

use crate::Result;
use crate::secret::SecretRecord;

#[async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Creates or replaces the secret at `record.path`; returns the stored record with its
    /// version (1 when created, incremented on each replacement) and created_at kept.
    async fn put_secret(&self, record: &SecretRecord) -> Result<SecretRecord>;
    /// The secret at `path`.
    async fn get_secret(&self, path: &str) -> Result<Option<SecretRecord>>;
    /// Deletes the secret at `path`; `false` when there was none.
    async fn delete_secret(&self, path: &str) -> Result<bool>;
}
