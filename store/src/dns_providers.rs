//! `DnsProviderStore`: DNS providers (their config as JSON text, secrets only by path).

use async_trait::async_trait;
use scaivault_domain::dns_provider::DnsProviderRecord;
use scaivault_domain::store::DnsProviderStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::{Error, Result};

use crate::dialect::{Dialect, Statement};
use crate::rows::DnsProviderRow;
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> DnsProviderStore for SqlStore<D> {
    async fn insert_dns_provider(&self, provider: &DnsProviderRecord) -> Result<()> {
        let config = serde_json::to_string(&provider.config)
            .map_err(|e| Error::corrupt(format!("encoding a DNS provider's config: {e}")))?;
        sqlx::query::<D>(
            "INSERT INTO dns_providers (id, name, kind, config, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .arg(provider.id.as_str())
        .arg(provider.name.as_str())
        .arg(provider.kind.as_str())
        .arg(config)
        .arg(to_millis(provider.created_at))
        .run(self.on_pool())
        .await
        .map_err(|err| match err {
            Error::Conflict(_) => Error::Conflict(format!(
                "a DNS provider named {:?} already exists",
                provider.name
            )),
            other => other,
        })?;
        Ok(())
    }

    async fn get_dns_provider(&self, id: &str) -> Result<Option<DnsProviderRecord>> {
        let row: Option<DnsProviderRow> = sqlx::query::<D>(
            "SELECT id, name, kind, config, created_at FROM dns_providers WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        row.map(DnsProviderRow::into_record).transpose()
    }

    async fn list_dns_providers(&self) -> Result<Vec<DnsProviderRecord>> {
        let rows: Vec<DnsProviderRow> = sqlx::query::<D>(
            "SELECT id, name, kind, config, created_at FROM dns_providers \
             ORDER BY created_at DESC, id",
        )
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(DnsProviderRow::into_record).collect()
    }

    async fn delete_dns_provider(&self, id: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let (in_use,): (i64,) = sqlx::query::<D>(
            "SELECT count(*) FROM acme_orders WHERE dns_provider_id = $1 \
             AND status IN ('pending', 'ready', 'processing')",
        )
        .arg(id)
        .one(D::on_conn(&mut tx))
        .await?;
        if in_use > 0 {
            return Err(Error::Conflict(format!(
                "DNS provider {id} is used by {in_use} order(s) in flight; delete it when they \
                 finish"
            )));
        }
        let deleted = sqlx::query::<D>("DELETE FROM dns_providers WHERE id = $1")
            .arg(id)
            .run(D::on_conn(&mut tx))
            .await?;
        commit(tx).await?;
        Ok(deleted == 1)
    }
}
