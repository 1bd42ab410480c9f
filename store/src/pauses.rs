//! `PauseStore`: accounts a CA paused for some identifiers.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::pause::AccountPause;
use scaivault_domain::store::PauseStore;
use scaivault_domain::timestamp::to_millis;

use crate::dialect::{Dialect, Statement};
use crate::rows::PauseRow;
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> PauseStore for SqlStore<D> {
    async fn record_pauses(&self, pauses: &[AccountPause]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for pause in pauses {
            // The first refusal's time stays; the link and the latest refusal are the CA's newest.
            sqlx::query::<D>(
                "INSERT INTO account_pauses \
                 (account_id, identifier, unpause_url, paused_at, checked_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (account_id, identifier) DO UPDATE SET \
                 unpause_url = excluded.unpause_url, checked_at = excluded.checked_at",
            )
            .arg(pause.account_id.as_str())
            .arg(pause.identifier.as_str())
            .arg(pause.unpause_url.as_deref())
            .arg(to_millis(pause.paused_at))
            .arg(to_millis(pause.checked_at))
            .run(D::on_conn(&mut tx))
            .await?;
        }
        commit(tx).await
    }

    async fn account_pauses(&self, account_id: &str) -> Result<Vec<AccountPause>> {
        let rows: Vec<PauseRow> = sqlx::query::<D>(
            "SELECT account_id, identifier, unpause_url, paused_at, checked_at \
             FROM account_pauses WHERE account_id = $1 ORDER BY identifier",
        )
        .arg(account_id)
        .rows(self.on_pool())
        .await?;
        Ok(rows.into_iter().map(PauseRow::into_record).collect())
    }

    async fn clear_pauses(&self, account_id: &str, identifiers: Option<&[String]>) -> Result<u64> {
        let Some(identifiers) = identifiers else {
            return sqlx::query::<D>("DELETE FROM account_pauses WHERE account_id = $1")
                .arg(account_id)
                .run(self.on_pool())
                .await;
        };
        let mut tx = self.begin_write().await?;
        let mut cleared = 0;
        for identifier in identifiers {
            cleared += sqlx::query::<D>(
                "DELETE FROM account_pauses WHERE account_id = $1 AND identifier = $2",
            )
            .arg(account_id)
            .arg(identifier.as_str())
            .run(D::on_conn(&mut tx))
            .await?;
        }
        commit(tx).await?;
        Ok(cleared)
    }
}
