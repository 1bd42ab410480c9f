//! `DnsProviderStore`: DNS providers (their config as JSON text, secrets only by path).

use async_trait::async_trait;
use scaivault_domain::dns_provider::DnsProviderRecord;
use scaivault_domain::store::DnsProviderStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::{Error, Result};

use crate::dialect::{Dialect, Statement, newest_first};
use crate::rows::DnsProviderRow;
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> DnsProviderStore for SqlStore<D> {
    async fn insert_dns_provider(&self, provider: &DnsProviderRecord) -> Result<()> {
        let config = serde_json::to_string(&provider.config)
            .map_err(|e| Error::corrupt(format!("encoding a DNS provider's config: {e}")))?;
        let zones = serde_json::to_string(&provider.zones)
            .map_err(|e| Error::corrupt(format!("encoding a DNS provider's zones: {e}")))?;
        let inserted = sqlx::query::<D>(
            "INSERT INTO dns_providers (id, name, kind, config, zones, is_default, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .arg(provider.id.as_str())
        .arg(provider.name.as_str())
        .arg(provider.kind.as_str())
        .arg(config)
        .arg(zones)
        .arg(i64::from(provider.is_default))
        .arg(to_millis(provider.created_at))
        .run(self.on_pool())
        .await;
        match inserted {
            Ok(_) => Ok(()),
            // Two unique constraints: the name, and one default provider.
            Err(Error::Conflict(_)) => {
                let default: Option<(String, String)> = if provider.is_default {
                    sqlx::query::<D>(
                        "SELECT id, name FROM dns_providers WHERE is_default = 1 AND name <> $1",
                    )
                    .arg(provider.name.as_str())
                    .row(self.on_pool())
                    .await?
                } else {
                    None
                };
                Err(Error::Conflict(match default {
                    Some((id, name)) => format!(
                        "the DNS provider {name:?} ({id}) is already the default; there is one"
                    ),
                    None => format!("a DNS provider named {:?} already exists", provider.name),
                }))
            }
            Err(other) => Err(other),
        }
    }

    async fn get_dns_provider(&self, id: &str) -> Result<Option<DnsProviderRecord>> {
        let row: Option<DnsProviderRow> = sqlx::query::<D>(
            "SELECT id, name, kind, config, zones, is_default, created_at FROM dns_providers WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        row.map(DnsProviderRow::into_record).transpose()
    }

    async fn list_dns_providers(&self) -> Result<Vec<DnsProviderRecord>> {
        let rows: Vec<DnsProviderRow> = sqlx::query::<D>(
            "SELECT id, name, kind, config, zones, is_default, created_at FROM dns_providers \
             ORDER BY created_at DESC, id",
        )
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(DnsProviderRow::into_record).collect()
    }

    async fn dns_providers_page(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<DnsProviderRecord>> {
        let rows: Vec<DnsProviderRow> = sqlx::query::<D>(newest_first!(
            "SELECT id, name, kind, config, zones, is_default, created_at FROM dns_providers"
        ))
        .page(limit, before)
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
