//! The local rate-limit ledger around placing an order: before the CA is asked, the account's
//! pending authorizations are counted (with the new order's names), and each limited key of the
//! order (the account's new orders, each registered domain's certificates, the exact set of
//! names, the account's failed authorizations for each name) is counted in the store over its
//! window; an order over a limit is refused with when it would fit. Once the CA has created the
//! order, its entries are recorded; a failed authorization is recorded when the order actor
//! learns an authorization ended invalid ([`record_failures`]). The rules are in
//! `scaivault_domain::rate_limit`.
//!
//! The check and the record are not one transaction: two orders placed at the same instant may
//! both pass the last free slot. The ledger is a courtesy that keeps the service clear of the
//! CA's limits, not the limit itself; the CA's own `rateLimited` still reaches the caller.

use scaivault_domain::account::AccountRecord;
use std::time::Duration;

use scaivault_domain::rate_limit::{self, LedgerEntry, LedgerKey, Limit, ProviderLimits};
use scaivault_domain::store::LedgerStore;
use time::OffsetDateTime;

use crate::Error;

/// The counted keys of one order that passed the check, to record once the CA created it.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    keys: Vec<(LedgerKey, Limit)>,
    account_id: String,
    /// The longest window of any table: entries older than it count for nothing.
    prune_after: Option<Duration>,
}

/// The counted keys of an order for `domains` through `account`, unchecked.
pub(crate) fn pending(
    limits: &ProviderLimits,
    account: &AccountRecord,
    domains: &[String],
) -> Pending {
    let table = limits.of_account(account.provider, account.environment);
    Pending {
        keys: rate_limit::keys_for_order(&table, &account.directory_url, &account.id, domains),
        account_id: account.id.clone(),
        prune_after: limits.longest_window(),
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
    check_failures(store, limits, account, domains, now).await?;
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
    check_keys(store, &account.id, &pending.keys, now).await?;
    Ok(pending)
}

/// Checks only the account's failed authorizations for each of `domains`: for an order the
/// ledger does not otherwise count (an ARI renewal with `replaces`, an order placed again), as
/// the CA validates its names all the same.
pub(crate) async fn check_failures(
    store: &dyn LedgerStore,
    limits: &ProviderLimits,
    account: &AccountRecord,
    domains: &[String],
    now: OffsetDateTime,
) -> Result<(), Error> {
    let account_limits = limits.of_account(account.provider, account.environment);
    let keys = rate_limit::failure_keys(
        &account_limits,
        &account.directory_url,
        &account.id,
        domains,
    );
    check_keys(store, &account.id, &keys, now).await
}

async fn check_keys(
    store: &dyn LedgerStore,
    account_id: &str,
    keys: &[(LedgerKey, Limit)],
    now: OffsetDateTime,
) -> Result<(), Error> {
    for (key, limit) in keys {
        let times = store
            .ledger_times(key, rate_limit::window_start(*limit, now))
            .await?;
        if let Err(refusal) = rate_limit::check(key, *limit, &times, now) {
            tracing::info!(account = %account_id, %refusal, "order refused by the local rate-limit ledger");
            return Err(refusal.into());
        }
    }
    Ok(())
}

/// Records that the account's authorizations for `identifiers` ended invalid at `now` (when its
/// table limits failures). A failure is logged, not returned: the order has failed either way.
pub(crate) async fn record_failures(
    store: &dyn LedgerStore,
    limits: &ProviderLimits,
    account: &AccountRecord,
    identifiers: &[String],
    now: OffsetDateTime,
) {
    let account_limits = limits.of_account(account.provider, account.environment);
    let keys = rate_limit::failure_keys(
        &account_limits,
        &account.directory_url,
        &account.id,
        identifiers,
    );
    Pending {
        keys,
        account_id: account.id.clone(),
        prune_after: limits.longest_window(),
    }
    .record(store, now)
    .await;
}

impl Pending {
    /// Records the entries at `now` and drops the scope's entries older than the longest window
    /// of any table — not of these entries' kinds, which would drop younger entries of kinds
    /// with longer windows (a failure's hour against a certificate's week), nor of the account's
    /// table, as accounts of several tables may share a CA. A failure is logged, not returned:
    /// the CA's order exists either way.
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
            tracing::warn!(account = %self.account_id, error = %err, "could not record in the rate-limit ledger");
        }
        if let Some(window) = self.prune_after
            && let Err(err) = store
                .prune_ledger(&scope, rate_limit::older_than(window, now))
                .await
        {
            tracing::warn!(error = %err, "could not prune the rate-limit ledger");
        }
    }
}
