//! Secrets, sealed at rest.

use async_trait::async_trait;

use crate::Result;
use crate::secret::{SecretInfo, SecretRecord};

#[async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Creates or replaces the secret at `record.path`; returns the stored record with its
    /// version (1 when created, incremented on each replacement) and created_at kept.
    async fn put_secret(&self, record: &SecretRecord) -> Result<SecretRecord>;
    /// The secret at `path`.
    async fn get_secret(&self, path: &str) -> Result<Option<SecretRecord>>;
    /// Deletes the secret at `path`; `false` when there was none.
    async fn delete_secret(&self, path: &str) -> Result<bool>;
    /// A page of the secrets whose path starts with `prefix` (byte for byte; `""` for all),
    /// without their values, newest first; `before` is a `(created_at millis, path)` cursor.
    /// `created_at` never changes, so a page stays stable while secrets are replaced.
    async fn list_secrets(
        &self,
        prefix: &str,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<SecretInfo>>;
}
