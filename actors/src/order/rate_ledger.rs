//! The local rate-limit ledger around placing an order: before the CA is asked, the account's
//! pending authorizations are counted (with the new order's names), and each limited key of the
//! order (the account's new orders, each registered domain's certificates, the exact set of
//! names) is counted in the store over its window; an order over a limit is refused with when
//! it would fit. Once the CA has created the order, its entries are recorded. The rules
//! are in `scaivault_domain::rate_limit`.
//!
//! The check and the record are not one transaction: two orders placed at the same instant may
//! both pass the last free slot. The ledger is a courtesy that keeps the service clear of the
//! CA's limits, not the limit itself; the CA's own `rateLimited` still reaches the caller.

use scaivault_domain::account::AccountRecord;
use scaivault_domain::rate_limit::{self, LedgerEntry, LedgerKey, Limit, ProviderLimits};
use scaivault_domain::store::LedgerStore;
use time::OffsetDateTime;

use crate::Error;

/// The counted keys of one order that passed the check, to record once the CA created it.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    keys: Vec<(LedgerKey, Limit)>,
    account_id: String,
}

/// The counted keys of an order for `domains` through `account`, unchecked.
pub(crate) fn pending(
    limits: &ProviderLimits,
    account: &AccountRecord,
    domains: &[String],
) -> Pending {
    let limits = limits.of_account(account.provider, account.environment);
    Pending {
        keys: rate_limit::keys_for_order(&limits, &account.directory_url, &account.id, domains),
        account_id: account.id.clone(),
    }
}

/// Checks an order for `domains` through `account` against its provider's limits.
pub(crate) async fn check(
    store: &dyn LedgerStore,
    limits: &ProviderLimits,
    account: &AccountRecord,
    domains: &[String],
    now: OffsetDateTime,
) -> Result<Pending, Error> {
    let pending = pending(limits, account, domains);
    let account_limits = limits.of_account(account.provider, account.environment);
    if let Some(max) = account_limits.pending_authorizations {
        let open = store.pending_authorizations(&account.id).await?;
        let new = u32::try_from(domains.len()).unwrap_or(u32::MAX);
        if let Err(refusal) = rate_limit::check_pending_authorizations(&account.id, max, open, new)
        {
            tracing::info!(account = %account.id, %refusal, "order refused by the local rate-limit ledger");
            return Err(refusal.into());
        }
    }
    for (key, limit) in &pending.keys {
        let times = store
            .ledger_times(key, rate_limit::window_start(*limit, now))
            .await?;
        if let Err(refusal) = rate_limit::check(key, *limit, &times, now) {
            tracing::info!(account = %account.id, %refusal, "order refused by the local rate-limit ledger");
            return Err(refusal.into());
        }
    }
    Ok(pending)
}

impl Pending {
    /// Records the order's entries at `now` and drops the scope's entries older than its
    /// longest window. A failure is logged, not returned: the CA's order exists either way.
    pub(crate) async fn record(self, store: &dyn LedgerStore, now: OffsetDateTime) {
        let Some(scope) = self.keys.first().map(|(key, _)| key.scope.clone()) else {
            return;
        };
        let entries: Vec<LedgerEntry> = self
            .keys
            .iter()
            .map(|(key, _)| LedgerEntry {
                key: key.clone(),
                account_id: self.account_id.clone(),
                at: now,
            })
            .collect();
        if let Err(err) = store.insert_ledger_entries(&entries).await {
            tracing::warn!(account = %self.account_id, error = %err, "could not record an order in the rate-limit ledger");
        }
        let longest = self
            .keys
            .iter()
            .map(|(_, limit)| *limit)
            .max_by_key(|limit| limit.window);
        if let Some(limit) = longest
            && let Err(err) = store
                .prune_ledger(&scope, rate_limit::window_start(limit, now))
                .await
        {
            tracing::warn!(error = %err, "could not prune the rate-limit ledger");
        }
    }
}
