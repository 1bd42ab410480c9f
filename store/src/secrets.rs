//! `SecretStore`: secrets, sealed by the caller before they get here.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::store::SecretStore;
use scaivault_domain::timestamp::to_millis;

use crate::dialect::{Dialect, Statement};
use crate::rows::SecretRow;
use crate::sql_store::SqlStore;

#[async_trait]
impl<D: Dialect> SecretStore for SqlStore<D> {
    async fn put_secret(&self, record: &SecretRecord) -> Result<SecretRecord> {
        let row: SecretRow = sqlx::query::<D>(
            "INSERT INTO secrets (path, sealed, version, created_at, updated_at) \
             VALUES ($1, $2, 1, $3, $3) \
             ON CONFLICT (path) DO UPDATE SET sealed = excluded.sealed, \
             version = secrets.version + 1, updated_at = excluded.updated_at \
             RETURNING path, sealed, version, created_at, updated_at",
        )
        .arg(record.path.as_str())
        .arg(record.sealed.as_slice())
        .arg(to_millis(record.updated_at))
        .one(self.on_pool())
        .await?;
        Ok(row.into_record())
    }

    async fn get_secret(&self, path: &str) -> Result<Option<SecretRecord>> {
        let row: Option<SecretRow> = sqlx::query::<D>(
            "SELECT path, sealed, version, created_at, updated_at FROM secrets WHERE path = $1",
        )
        .arg(path)
        .row(self.on_pool())
        .await?;
        Ok(row.map(SecretRow::into_record))
    }

    async fn delete_secret(&self, path: &str) -> Result<bool> {
        let deleted = sqlx::query::<D>("DELETE FROM secrets WHERE path = $1")
            .arg(path)
            .run(self.on_pool())
            .await?;
        Ok(deleted == 1)
    }
}
