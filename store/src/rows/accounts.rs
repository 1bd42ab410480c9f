//! ACME accounts.

use scaivault_domain::Result;
use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::timestamp::from_millis;

use super::stored;

/// `acme_accounts` without its sealed credentials.
#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    name: String,
    provider: String,
    environment: String,
    directory_url: String,
    email: String,
    status: String,
    account_url: String,
    eab_kid: Option<String>,
    created_at: i64,
    deactivated_at: Option<i64>,
    key_thumbprint: Option<String>,
    key_rolled_at: Option<i64>,
}

impl AccountRow {
    pub(crate) fn into_record(self) -> Result<AccountRecord> {
        Ok(AccountRecord {
            id: self.id,
            name: self.name,
            provider: stored("provider", &self.provider)?,
            environment: stored("environment", &self.environment)?,
            directory_url: self.directory_url,
            email: self.email,
            status: AccountStatus::parse(&self.status)?,
            account_url: self.account_url,
            eab_kid: self.eab_kid,
            created_at: from_millis(self.created_at),
            deactivated_at: self.deactivated_at.map(from_millis),
            key_thumbprint: self.key_thumbprint,
            key_rolled_at: self.key_rolled_at.map(from_millis),
        })
    }
}
