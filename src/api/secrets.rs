//! `/v1/secrets/{path}`: values sealed at rest under the master key, with the path as associated
//! data. DNS providers refer to these paths for their credentials.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{ErrorBody, PutSecret, Secret, SecretWithValue};
use scaivault_domain::secret::{self, SecretRecord};
use scaivault_domain::timestamp;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath};
use crate::state::AppState;

#[utoipa::path(
    put, path = "/v1/secrets/{*path}", operation_id = "put_secret", tag = "secrets", security(("bearer" = ["secrets:write"])),
    params(("path" = String, Path, description = "The secret's path, e.g. `infra/aws/route53/access-key-id`; may contain slashes")),
    request_body = PutSecret,
    responses(
        (status = 200, description = "Replaced; the version went up", body = Secret),
        (status = 201, description = "Created", body = Secret),
        (status = 400, description = "`invalid_request`: bad path or value (`details.field`)", body = ErrorBody),
    ),
)]
pub async fn put(
    State(state): State<AppState>,
    principal: Authorized<need::SecretsWrite>,
    ApiPath(path): ApiPath<String>,
    ApiJson(body): ApiJson<PutSecret>,
) -> ApiResult<(StatusCode, Json<Secret>)> {
    secret::validate_path(&path)?;
    secret::validate_value(&body.value)?;
    let now = timestamp::now();
    let sealed = state.key.seal(&secret::aad(&path), body.value.as_bytes())?;
    let stored = state
        .store
        .put_secret(&SecretRecord {
            path: path.clone(),
            sealed,
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .await?;
    tracing::info!(path = %path, version = stored.version, by = %principal.token_id, "stored secret");
    let status = if stored.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Secret::from(&stored))))
}

#[utoipa::path(
    get, path = "/v1/secrets/{*path}", operation_id = "get_secret", tag = "secrets", security(("bearer" = ["secrets:read"])),
    params(("path" = String, Path, description = "The secret's path; may contain slashes")),
    responses(
        (status = 200, description = "The secret with its value", body = SecretWithValue),
        (status = 400, description = "`invalid_request`: bad path", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::SecretsRead>,
    ApiPath(path): ApiPath<String>,
) -> ApiResult<Json<SecretWithValue>> {
    secret::validate_path(&path)?;
    let stored = state
        .store
        .get_secret(&path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no secret at {path}")))?;
    let plain = state.key.open(&secret::aad(&path), &stored.sealed)?;
    let value = String::from_utf8(plain).map_err(ApiError::internal)?;
    Ok(Json(SecretWithValue {
        record: Secret::from(&stored),
        value,
    }))
}

#[utoipa::path(
    delete, path = "/v1/secrets/{*path}", operation_id = "delete_secret", tag = "secrets", security(("bearer" = ["secrets:write"])),
    params(("path" = String, Path, description = "The secret's path; may contain slashes")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid_request`: bad path", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Authorized<need::SecretsWrite>,
    ApiPath(path): ApiPath<String>,
) -> ApiResult<StatusCode> {
    secret::validate_path(&path)?;
    if state.store.delete_secret(&path).await? {
        tracing::info!(path = %path, by = %principal.token_id, "deleted secret");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no secret at {path}")))
    }
}
