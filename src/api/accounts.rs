//! `/v1/pki/acme/accounts` and `/v1/pki/acme/providers`. Writes go to the account actors; reads
//! come from the store.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_domain::account::RegistrationInput;
use scaivault_domain::provider::PROVIDERS;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    name: String,
    #[schema(value_type = scaivault_domain::provider::Provider)]
    provider: String,
    #[schema(value_type = Option<scaivault_domain::provider::Environment>)]
    environment: Option<String>,
    email: String,
    directory_url: Option<String>,
    eab: Option<EabInput>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EabInput {
    kid: String,
    hmac_key: String,
}

#[utoipa::path(
    post, path = "/v1/pki/acme/accounts", operation_id = "register_account", tag = "acme", security(("bearer" = ["pki:write"])),
    request_body = Register,
    responses(
        (status = 201, description = "Registered at the CA", body = scaivault_domain::account::AccountRecord),
        (status = 400, description = "`invalid_request` (`details.field`), `provider_discontinued`, `eab_required`, or `ca_rejected` (`details.ca_problem`)", body = super::schemas::ErrorBody),
        (status = 409, description = "`conflict`", body = super::schemas::ErrorBody),
        (status = 429, description = "`backend_rate_limited`: the CA's or the local rate limit (`Retry-After`)", body = super::schemas::ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or could not be reached", body = super::schemas::ErrorBody),
        (status = 503, description = "`unavailable`: the account actors are not running (`Retry-After`)", body = super::schemas::ErrorBody),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    _: Authorized<need::PkiWrite>,
    ApiJson(body): ApiJson<Register>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (eab_kid, eab_hmac_key) = match body.eab {
        Some(eab) => (Some(eab.kid), Some(eab.hmac_key)),
        None => (None, None),
    };
    let record = state
        .accounts
        .register(RegistrationInput {
            name: body.name,
            provider: body.provider,
            environment: body.environment,
            email: body.email,
            directory_url: body.directory_url,
            eab_kid,
            eab_hmac_key,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!(record))))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/accounts", operation_id = "list_accounts", tag = "acme", security(("bearer" = ["pki:read"])),
    responses((status = 200, description = "Every account", body = super::schemas::AccountList)),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
) -> ApiResult<Json<Value>> {
    let accounts = state.store.list_accounts().await?;
    Ok(Json(json!({ "accounts": accounts })))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/accounts/{id}", operation_id = "get_account", tag = "acme", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    responses(
        (status = 200, description = "The account", body = scaivault_domain::account::AccountRecord),
        (status = 404, description = "`not_found`", body = super::schemas::ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let record = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {id} not found")))?;
    Ok(Json(json!(record)))
}

#[utoipa::path(
    delete, path = "/v1/pki/acme/accounts/{id}", operation_id = "deactivate_account", tag = "acme", security(("bearer" = ["pki:write"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)")),
    responses(
        (status = 200, description = "Deactivated at the CA and here", body = scaivault_domain::account::AccountRecord),
        (status = 400, description = "`ca_rejected`: the CA refused (`details.ca_problem`)", body = super::schemas::ErrorBody),
        (status = 404, description = "`not_found`", body = super::schemas::ErrorBody),
        (status = 409, description = "`conflict`: already deactivated", body = super::schemas::ErrorBody),
        (status = 429, description = "`backend_rate_limited` (`Retry-After`)", body = super::schemas::ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or could not be reached", body = super::schemas::ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = super::schemas::ErrorBody),
    ),
)]
/// Deactivates the account at the CA (RFC 8555 §7.3.6) and marks it deactivated here; the
/// record stays, so certificates issued through it keep their history.
pub async fn deactivate(
    State(state): State<AppState>,
    _: Authorized<need::PkiWrite>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let record = state.accounts.deactivate(&id).await?;
    Ok(Json(json!(record)))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/providers", operation_id = "list_providers", tag = "acme", security(("bearer" = ["pki:read"])),
    responses((status = 200, description = "Every provider with its directory URLs and status", body = super::schemas::ProviderList)),
)]
pub async fn providers(_: Authorized<need::PkiRead>) -> ApiResult<Json<Value>> {
    let providers: Vec<Value> = PROVIDERS
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "display_name": p.display_name,
                "status": p.status,
                "discontinued_on": p.discontinued_on,
                "eab_required": p.eab_required,
                "environments": {
                    "production": p.production_directory,
                    "staging": p.staging_directory,
                },
                "notes": p.notes,
            })
        })
        .collect();
    Ok(Json(json!({ "providers": providers })))
}
