//! How the CAs and DNS providers are doing: each account's use of its CA's limits in the local
//! rate-limit ledger (the same ledger and limits orders are checked against), and the last
//! failure seen through each account and each DNS provider.

use maud::{Markup, html};
use scaivault_contract::Account;
use scaivault_domain::order::{OrderQuery, OrderRecord, OrderStatus};
use scaivault_domain::rate_limit::{self, LedgerKind};
use scaivault_domain::timestamp;

use super::AdminState;
use crate::api::error::ApiError;

/// One limit: what it counts, how much of it is used now, and its maximum.
#[derive(Debug, Clone)]
pub struct LimitUse {
    pub name: &'static str,
    pub used: u64,
    pub max: u32,
    pub window: Option<std::time::Duration>,
}

/// An account's limits and its last failure.
#[derive(Debug, Clone, Default)]
pub struct AccountHealth {
    pub limits: Vec<LimitUse>,
    pub last_error: Option<String>,
}

/// Recent invalid orders, newest first (the last failures of accounts and DNS providers).
pub async fn failed_orders(state: &AdminState) -> Result<Vec<OrderRecord>, ApiError> {
    Ok(state
        .app
        .store
        .list_orders(&OrderQuery {
            status: Some(OrderStatus::Invalid),
            limit: 100,
            before: None,
        })
        .await?)
}

/// `order`'s failure in one line.
pub fn failure(order: &OrderRecord) -> String {
    match &order.error {
        Some(error) => format!(
            "{}: {} ({}, order {})",
            error.code,
            error.message,
            timestamp::rfc3339(order.updated_at),
            order.id
        ),
        None => format!(
            "invalid ({}, order {})",
            timestamp::rfc3339(order.updated_at),
            order.id
        ),
    }
}

/// `account`'s health, from the ledger and its recent invalid orders.
pub async fn of_account(state: &AdminState, account: &Account) -> Result<AccountHealth, ApiError> {
    let failed = failed_orders(state).await?;
    of_account_with(state, account, &failed).await
}

/// [`of_account`] with the invalid orders already read.
pub async fn of_account_with(
    state: &AdminState,
    account: &Account,
    failed: &[OrderRecord],
) -> Result<AccountHealth, ApiError> {
    let limits = state
        .limits
        .of_account(account.provider.into(), account.environment.into());
    let now = timestamp::now();
    let mut uses = Vec::new();
    for (key, limit) in
        rate_limit::keys_for_order(&limits, &account.directory_url, &account.id, &[])
    {
        if key.kind != LedgerKind::Order {
            continue;
        }
        let used = state
            .app
            .store
            .ledger_times(&key, rate_limit::window_start(limit, now))
            .await?
            .len() as u64;
        uses.push(LimitUse {
            name: LedgerKind::Order.limit_name(),
            used,
            max: limit.max,
            window: Some(limit.window),
        });
    }
    if let Some(max) = limits.pending_authorizations {
        uses.push(LimitUse {
            name: LedgerKind::PendingAuthorization.limit_name(),
            used: u64::from(state.app.store.pending_authorizations(&account.id).await?),
            max,
            window: None,
        });
    }
    let last_error = failed
        .iter()
        .find(|order| order.account_id == account.id)
        .map(failure);
    Ok(AccountHealth {
        limits: uses,
        last_error,
    })
}

/// The limits as a table; "unlimited" when the CA's table sets none.
pub fn limits_table(health: &AccountHealth) -> Markup {
    html! {
        @if health.limits.is_empty() {
            p class="muted" { "No local limits configured for this CA." }
        } @else {
            table class="limits" {
                thead { tr { th { "Limit" } th { "Used" } th { "Window" } } }
                tbody {
                    @for l in &health.limits {
                        tr data-limit=(l.name) {
                            td { code { (l.name) } }
                            td { (l.used) " / " (l.max)
                                 @if l.used >= u64::from(l.max) { " " span class="badge bad" { "at the limit" } } }
                            td { @match l.window { Some(w) => { (humantime::format_duration(w)) }, None => { "at any one time" } } }
                        }
                    }
                }
            }
        }
    }
}
