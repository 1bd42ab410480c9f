//! `LedgerStore`: the local rate-limit ledger.

use async_trait::async_trait;
use scaivault_domain::rate_limit::{LedgerEntry, LedgerKey};
use scaivault_domain::store::LedgerStore;
use scaivault_domain::timestamp::{from_millis, to_millis};
use scaivault_domain::{Result, ids};
use time::OffsetDateTime;

use crate::dialect::{Dialect, Statement};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> LedgerStore for SqlStore<D> {
    async fn insert_ledger_entries(&self, entries: &[LedgerEntry]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for entry in entries {
            sqlx::query::<D>(
                "INSERT INTO rate_ledger (id, scope, kind, subject, account_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .arg(ids::new_id("ledger"))
            .arg(entry.key.scope.as_str())
            .arg(entry.key.kind.as_str())
            .arg(entry.key.subject.as_str())
            .arg(entry.account_id.as_str())
            .arg(to_millis(entry.at))
            .run(D::on_conn(&mut tx))
            .await?;
        }
        commit(tx).await
    }

    async fn ledger_times(
        &self,
        key: &LedgerKey,
        after: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>> {
        let times: Vec<(i64,)> = sqlx::query::<D>(
            "SELECT created_at FROM rate_ledger \
             WHERE scope = $1 AND kind = $2 AND subject = $3 AND created_at > $4 \
             ORDER BY created_at",
        )
        .arg(key.scope.as_str())
        .arg(key.kind.as_str())
        .arg(key.subject.as_str())
        .arg(to_millis(after))
        .rows(self.on_pool())
        .await?;
        Ok(times.into_iter().map(|(at,)| from_millis(at)).collect())
    }

    async fn pending_authorizations(&self, account_id: &str) -> Result<u32> {
        let (count,): (i64,) = sqlx::query::<D>(
            "SELECT COUNT(*) FROM acme_challenges c JOIN acme_orders o ON o.id = c.order_id \
             WHERE o.account_id = $1 AND o.status = 'pending' \
             AND c.status IN ('pending', 'processing')",
        )
        .arg(account_id)
        .one(self.on_pool())
        .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn prune_ledger(&self, scope: &str, before: OffsetDateTime) -> Result<u64> {
        sqlx::query::<D>("DELETE FROM rate_ledger WHERE scope = $1 AND created_at <= $2")
            .arg(scope)
            .arg(to_millis(before))
            .run(self.on_pool())
            .await
    }
}
