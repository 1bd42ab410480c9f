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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    name: String,
    provider: String,
    environment: Option<String>,
    email: String,
    directory_url: Option<String>,
    eab: Option<EabInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EabInput {
    kid: String,
    hmac_key: String,
}

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

pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
) -> ApiResult<Json<Value>> {
    let accounts = state.store.list_accounts().await?;
    Ok(Json(json!({ "accounts": accounts })))
}

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
