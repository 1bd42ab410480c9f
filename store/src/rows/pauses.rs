//! Account pauses.

use scaivault_domain::pause::AccountPause;
use scaivault_domain::timestamp::from_millis;

/// `account_pauses`.
#[derive(sqlx::FromRow)]
pub(crate) struct PauseRow {
    account_id: String,
    identifier: String,
    unpause_url: Option<String>,
    paused_at: i64,
    checked_at: i64,
}

impl PauseRow {
    pub(crate) fn into_record(self) -> AccountPause {
        AccountPause {
            account_id: self.account_id,
            identifier: self.identifier,
            unpause_url: self.unpause_url,
            paused_at: from_millis(self.paused_at),
            checked_at: from_millis(self.checked_at),
        }
    }
}
