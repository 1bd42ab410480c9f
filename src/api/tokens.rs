//! `/v1/auth/tokens`: API tokens with scopes. The value is returned once, at creation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_domain::scope::Scope;
use scaivault_domain::{timestamp, token};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    #[schema(value_type = Vec<scaivault_domain::scope::Scope>)]
    scopes: Vec<String>,
    /// e.g. `"90d"`; no expiry when absent.
    expires_in: Option<String>,
}

#[utoipa::path(
    post, path = "/v1/auth/tokens", operation_id = "create_token", tag = "tokens", security(("bearer" = ["admin"])),
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created; the token value is shown only here", body = super::schemas::CreatedToken),
        (status = 400, description = "`invalid_request`: bad name, scope or expires_in (`details.field`)", body = super::schemas::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "name: 1 to 100 characters"));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "scopes: give at least one scope",
        ));
    }
    let scopes = body
        .scopes
        .iter()
        .map(|s| s.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()?;
    let now = timestamp::now();
    let expires_at = match body.expires_in.as_deref() {
        None => None,
        Some(text) => {
            let duration = humantime::parse_duration(text).map_err(|_| {
                ApiError::invalid(
                    "expires_in",
                    format!("expires_in: {text:?} is not a duration like \"90d\""),
                )
            })?;
            let duration = time::Duration::try_from(duration)
                .map_err(|_| ApiError::invalid("expires_in", "expires_in: too long"))?;
            Some(now + duration)
        }
    };
    let minted = token::mint(name, scopes, now, expires_at);
    state.store.insert_token(&minted.record).await?;
    tracing::info!(token = %minted.record.id, by = %principal.token_id, "created API token");
    let mut body = json!(minted.record);
    body["token"] = Value::String(minted.value);
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    get, path = "/v1/auth/tokens", operation_id = "list_tokens", tag = "tokens", security(("bearer" = ["admin"])),
    responses((status = 200, description = "Every token (never a value)", body = super::schemas::TokenList)),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
) -> ApiResult<Json<Value>> {
    let tokens = state.store.list_tokens().await?;
    Ok(Json(json!({ "tokens": tokens })))
}

#[utoipa::path(
    delete, path = "/v1/auth/tokens/{id}", operation_id = "delete_token", tag = "tokens", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Token id (`tok_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = super::schemas::ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_token(&id).await? {
        state.auth.forget(&id);
        tracing::info!(token = %id, by = %principal.token_id, "deleted API token");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("token {id} not found")))
    }
}
