//! `SecretStore`: secrets, sealed by the caller before they get here.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::secret::{SecretInfo, SecretRecord};
use scaivault_domain::store::SecretStore;
use scaivault_domain::timestamp::to_millis;

use crate::dialect::{Dialect, Statement};
use crate::rows::{SecretInfoRow, SecretRow};
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

    /// The prefix is compared with `substr` rather than `LIKE`: `_` is common in paths and a
    /// `LIKE` wildcard, and `LIKE` ignores ASCII case on SQLite but not on PostgreSQL.
    async fn list_secrets(
        &self,
        prefix: &str,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<SecretInfo>> {
        let (before_at, before_path) = before.unwrap_or((i64::MAX, String::new()));
        let rows: Vec<SecretInfoRow> = sqlx::query::<D>(
            "SELECT path, version, created_at, updated_at FROM secrets \
             WHERE substr(path, 1, length($1)) = $1 \
             AND (created_at < $2 OR (created_at = $2 AND path < $3)) \
             ORDER BY created_at DESC, path DESC LIMIT $4",
        )
        .arg(prefix)
        .arg(before_at)
        .arg(before_path)
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        Ok(rows.into_iter().map(SecretInfoRow::into_record).collect())
    }
}
