//! `AccountStore`: ACME accounts and their sealed credentials.

use async_trait::async_trait;
use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::store::AccountStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::{Error, Result};
use time::OffsetDateTime;

use crate::dialect::{Dialect, Statement, newest_first};
use crate::rows::AccountRow;
use crate::sql_store::SqlStore;

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    async fn insert_account(
        &self,
        account: &AccountRecord,
        sealed_credentials: &[u8],
    ) -> Result<()> {
        sqlx::query::<D>(
            "INSERT INTO acme_accounts (id, name, provider, environment, directory_url, email, \
             status, account_url, eab_kid, created_at, deactivated_at, sealed_credentials, \
             key_thumbprint, key_rolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .arg(account.id.as_str())
        .arg(account.name.as_str())
        .arg(account.provider.as_str())
        .arg(account.environment.as_str())
        .arg(account.directory_url.as_str())
        .arg(account.email.as_str())
        .arg(account.status.as_str())
        .arg(account.account_url.as_str())
        .arg(account.eab_kid.as_deref())
        .arg(to_millis(account.created_at))
        .arg(account.deactivated_at.map(to_millis))
        .arg(sealed_credentials)
        .arg(account.key_thumbprint.as_deref())
        .arg(account.key_rolled_at.map(to_millis))
        .run(self.on_pool())
        .await
        .map_err(|err| match err {
            Error::Conflict(_) => Error::Conflict(format!(
                "an account named {:?} already exists",
                account.name
            )),
            other => other,
        })?;
        Ok(())
    }

    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>> {
        let row: Option<AccountRow> = sqlx::query::<D>(
            "SELECT id, name, provider, environment, directory_url, email, status, account_url, \
             eab_kid, created_at, deactivated_at, key_thumbprint, key_rolled_at \
             FROM acme_accounts WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        row.map(AccountRow::into_record).transpose()
    }

    async fn list_accounts(&self) -> Result<Vec<AccountRecord>> {
        let rows: Vec<AccountRow> = sqlx::query::<D>(
            "SELECT id, name, provider, environment, directory_url, email, status, \
                 account_url, eab_kid, created_at, deactivated_at, key_thumbprint, key_rolled_at \
                 FROM acme_accounts ORDER BY created_at DESC, id",
        )
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(AccountRow::into_record).collect()
    }

    async fn accounts_page(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<AccountRecord>> {
        let rows: Vec<AccountRow> = sqlx::query::<D>(newest_first!(
            "SELECT id, name, provider, environment, directory_url, email, status, \
                 account_url, eab_kid, created_at, deactivated_at, key_thumbprint, key_rolled_at \
                 FROM acme_accounts"
        ))
        .page(limit, before)
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(AccountRow::into_record).collect()
    }

    async fn account_credentials(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query::<D>("SELECT sealed_credentials FROM acme_accounts WHERE id = $1")
                .arg(id)
                .row(self.on_pool())
                .await?;
        Ok(row.map(|(sealed,)| sealed))
    }

    async fn set_account_email(&self, id: &str, email: &str) -> Result<bool> {
        let updated = sqlx::query::<D>("UPDATE acme_accounts SET email = $2 WHERE id = $1")
            .arg(id)
            .arg(email)
            .run(self.on_pool())
            .await?;
        Ok(updated == 1)
    }

    async fn fill_account_key_thumbprint(&self, id: &str, thumbprint: &str) -> Result<()> {
        sqlx::query::<D>(
            "UPDATE acme_accounts SET key_thumbprint = $2 WHERE id = $1 AND key_thumbprint IS NULL",
        )
        .arg(id)
        .arg(thumbprint)
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn set_pending_account_key(&self, id: &str, sealed_credentials: &[u8]) -> Result<bool> {
        let updated =
            sqlx::query::<D>("UPDATE acme_accounts SET pending_credentials = $2 WHERE id = $1")
                .arg(id)
                .arg(sealed_credentials)
                .run(self.on_pool())
                .await?;
        Ok(updated == 1)
    }

    async fn pending_account_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<(Option<Vec<u8>>,)> =
            sqlx::query::<D>("SELECT pending_credentials FROM acme_accounts WHERE id = $1")
                .arg(id)
                .row(self.on_pool())
                .await?;
        Ok(row.and_then(|(sealed,)| sealed))
    }

    async fn promote_account_key(
        &self,
        id: &str,
        sealed_credentials: &[u8],
        thumbprint: &str,
        at: OffsetDateTime,
    ) -> Result<bool> {
        // The new credentials are passed rather than copied from `pending_credentials`, so the
        // promotion does not depend on the pending key still being there.
        let updated = sqlx::query::<D>(
            "UPDATE acme_accounts SET sealed_credentials = $2, pending_credentials = NULL, \
             key_thumbprint = $3, key_rolled_at = $4 WHERE id = $1",
        )
        .arg(id)
        .arg(sealed_credentials)
        .arg(thumbprint)
        .arg(to_millis(at))
        .run(self.on_pool())
        .await?;
        Ok(updated == 1)
    }

    async fn clear_pending_account_key(&self, id: &str) -> Result<()> {
        sqlx::query::<D>("UPDATE acme_accounts SET pending_credentials = NULL WHERE id = $1")
            .arg(id)
            .run(self.on_pool())
            .await?;
        Ok(())
    }

    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        at: OffsetDateTime,
    ) -> Result<bool> {
        let deactivated_at = (status == AccountStatus::Deactivated).then(|| to_millis(at));
        let updated = sqlx::query::<D>(
            "UPDATE acme_accounts SET status = $2, deactivated_at = $3 WHERE id = $1",
        )
        .arg(id)
        .arg(status.as_str())
        .arg(deactivated_at)
        .run(self.on_pool())
        .await?;
        Ok(updated == 1)
    }
}
