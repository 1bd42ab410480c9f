//! `/v1/pki/acme/accounts` and `/v1/pki/acme/providers`. Writes go to the account actors; reads
//! come from the store.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{
    Account, AccountList, ErrorBody, PageQuery, ProviderList, ProviderView, Register, UpdateAccount,
};
use scaivault_domain::account::{AccountRecord, RegistrationInput};
use scaivault_domain::provider::PROVIDERS;
use scaivault_domain::scope::Scope;
use scaivault_domain::timestamp;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    post, path = "/v1/pki/acme/accounts", operation_id = "register_account", tag = "acme", security(("bearer" = ["pki:write"])),
    request_body = Register,
    responses(
        (status = 201, description = "Registered at the CA", body = Account),
        (status = 400, description = "`invalid_request` (`details.field`, or `details.reason` `refused_by_policy`: the CA is at an address `[acme] allow_private_directories` does not allow), `provider_discontinued`, `eab_required`, or `ca_rejected` (`details.ca_problem`)", body = ErrorBody),
        (status = 403, description = "`forbidden`: `zerossl_api_key_path` needs `secrets:read` too", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many registrations from this token (`[server] registrations_per_minute`, `Retry-After`); `backend_rate_limited`: the CA's or the local rate limit (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or is unreachable (`details.failure`; the cause is in the service log)", body = ErrorBody),
        (status = 503, description = "`unavailable`: the account actors are not running (`Retry-After`)", body = ErrorBody),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    caller: Authorized<need::PkiWrite>,
    ApiJson(body): ApiJson<Register>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    state.registration_rate.admit(&caller.0.token_id)?;
    // The secret's value goes to ZeroSSL, not to the caller; still, only a caller who may read
    // it may have it used.
    if body.zerossl_api_key_path.is_some() {
        caller.0.require(Scope::SecretsRead)?;
    }
    let (eab_kid, eab_hmac_key) = match body.eab {
        Some(eab) => (Some(eab.kid), Some(eab.hmac_key)),
        None => (None, None),
    };
    let record = state
        .accounts
        .register(RegistrationInput {
            name: body.name,
            provider: body.provider.as_str().to_owned(),
            environment: body.environment.map(|e| e.as_str().to_owned()),
            email: body.email,
            directory_url: body.directory_url,
            eab_kid,
            eab_hmac_key,
            zerossl_api_key_path: body.zerossl_api_key_path,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(Account::from(&record))))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/accounts", operation_id = "list_accounts", tag = "acme", security(("bearer" = ["pki:read"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of accounts, newest first", body = AccountList),
        (status = 400, description = "`invalid_request`: bad limit or cursor", body = ErrorBody),
    ),
)]
/// Accounts, newest first, `limit` (default 50, at most 100) per page; `next_cursor` continues.
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<AccountList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let accounts = state
        .store
        .accounts_page(page.limit, page.before.clone())
        .await?;
    // One read per account: pauses are rare and a page is at most 100 accounts.
    let mut views = Vec::with_capacity(accounts.len());
    for account in &accounts {
        views.push(with_pauses(&state, account).await?);
    }
    let next = page.next(
        accounts.last().map(|a| Cursor {
            created_at: timestamp::to_millis(a.created_at),
            id: a.id.clone(),
        }),
        accounts.len(),
    );
    Ok(Json(AccountList {
        accounts: views,
        next_cursor: next,
    }))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/accounts/{id}", operation_id = "get_account", tag = "acme", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    responses(
        (status = 200, description = "The account", body = Account),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Account>> {
    let record = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {id} not found")))?;
    Ok(Json(with_pauses(&state, &record).await?))
}

#[utoipa::path(
    delete, path = "/v1/pki/acme/accounts/{id}/pauses", operation_id = "clear_account_pauses", tag = "acme", security(("bearer" = ["pki:write"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    responses(
        (status = 200, description = "The account, its pauses cleared", body = Account),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
/// Forgets the CA's pauses of the account, once the operator has lifted them with the CA's
/// unpause link. The renewals it held start at once (in the background) instead of at their
/// daily probe; if the CA still pauses the account, their orders record the pause again.
pub async fn clear_pauses(
    State(state): State<AppState>,
    _: Authorized<need::PkiWrite>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Account>> {
    let record = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {id} not found")))?;
    let identifiers: Vec<String> = state
        .store
        .account_pauses(&id)
        .await?
        .into_iter()
        .map(|pause| pause.identifier)
        .collect();
    let cleared = state.store.clear_pauses(&id, None).await?;
    if cleared > 0 {
        tracing::info!(account = %id, cleared, "the account's pauses were cleared by an operator");
        // Held renewals run now, not at their daily probe; in the background, since finding
        // them reads every renewal candidate.
        let orders = state.orders.clone();
        tokio::spawn(async move {
            match orders.resume_held_renewals(&id, &identifiers).await {
                Ok(resumed) => {
                    tracing::info!(account = %id, resumed, "held renewals started")
                }
                Err(err) => {
                    tracing::warn!(account = %id, error = %err, "could not resume held renewals")
                }
            }
        });
    }
    Ok(Json(Account::from(&record)))
}

#[utoipa::path(
    post, path = "/v1/pki/acme/accounts/{id}", operation_id = "update_account", tag = "acme", security(("bearer" = ["pki:write"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    request_body = UpdateAccount,
    responses(
        (status = 200, description = "The contact replaced at the CA and here", body = Account),
        (status = 400, description = "`invalid_request` (`details.field` `email`), or `ca_rejected`: the CA refused the contact (`details.ca_problem`, e.g. `invalidContact`)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: the account is deactivated", body = ErrorBody),
        (status = 429, description = "`backend_rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or could not be reached", body = ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = ErrorBody),
    ),
)]
/// Replaces the account's contact email at the CA (RFC 8555 §7.3.2), then here.
pub async fn update(
    State(state): State<AppState>,
    _: Authorized<need::PkiWrite>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    let record = state.accounts.update_email(&id, &body.email).await?;
    Ok(Json(with_pauses(&state, &record).await?))
}

#[utoipa::path(
    post, path = "/v1/pki/acme/accounts/{id}/key-rollover", operation_id = "roll_over_account_key", tag = "acme", security(("bearer" = ["pki:write"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    responses(
        (status = 200, description = "The account with its new key's `key_thumbprint` and `key_rolled_at`", body = Account),
        (status = 400, description = "`ca_rejected`: the CA refused the key change (`details.ca_problem`)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: the account is deactivated, or its CA offers no key change", body = ErrorBody),
        (status = 429, description = "`backend_rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or could not be reached (the new key is settled with the CA at the account's next use)", body = ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = ErrorBody),
    ),
)]
/// Replaces the account key (RFC 8555 §7.3.5) with a new one of the same type, generated and
/// sealed here; the old key is no longer accepted by the CA. Orders in flight finish with the
/// new key. No body; the answer holds no key material.
pub async fn roll_over_key(
    State(state): State<AppState>,
    _: Authorized<need::PkiWrite>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Account>> {
    let record = state.accounts.roll_key(&id).await?;
    Ok(Json(with_pauses(&state, &record).await?))
}

#[utoipa::path(
    delete, path = "/v1/pki/acme/accounts/{id}", operation_id = "deactivate_account", tag = "acme", security(("bearer" = ["pki:write"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    responses(
        (status = 200, description = "Deactivated at the CA and here", body = Account),
        (status = 400, description = "`ca_rejected`: the CA refused (`details.ca_problem`)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: already deactivated", body = ErrorBody),
        (status = 429, description = "`backend_rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or could not be reached", body = ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = ErrorBody),
    ),
)]
/// Deactivates the account at the CA (RFC 8555 §7.3.6) and marks it deactivated here; the
/// record stays, so certificates issued through it keep their history. Its unfinished orders
/// end as `deactivated`, with the reason in their `error`.
pub async fn deactivate(
    State(state): State<AppState>,
    _: Authorized<need::PkiWrite>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Account>> {
    let record = state.accounts.deactivate(&id).await?;
    state.orders.account_deactivated(&id).await?;
    Ok(Json(Account::from(&record)))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/providers", operation_id = "list_providers", tag = "acme", security(("bearer" = ["pki:read"])),
    responses((status = 200, description = "Every provider with its directory URLs and status", body = ProviderList)),
)]
pub async fn providers(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
) -> ApiResult<Json<ProviderList>> {
    let directories = state.accounts.directories();
    Ok(Json(ProviderList {
        providers: PROVIDERS
            .iter()
            .map(|info| ProviderView::new(info, directories))
            .collect(),
    }))
}

/// The account's answer with the CA's pauses it is under (one read).
async fn with_pauses(state: &AppState, record: &AccountRecord) -> ApiResult<Account> {
    let pauses = state.store.account_pauses(&record.id).await?;
    Ok(Account::with_pauses(record, &pauses))
}
