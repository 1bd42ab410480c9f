//! `/v1/secrets/{path}`: values sealed at rest under the master key, with the path as associated
//! data. DNS providers refer to these paths for their credentials. `GET /v1/secrets` lists the
//! paths, never the values.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{
    ErrorBody, ListSecrets, PutSecret, Secret, SecretList, SecretSummary, SecretWithValue,
};
use scaivault_domain::secret::{self, SecretRecord};
use scaivault_domain::timestamp;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    get, path = "/v1/secrets", operation_id = "list_secrets", tag = "secrets", security(("bearer" = ["secrets:read"])),
    params(ListSecrets),
    responses(
        (status = 200, description = "A page of secrets without their values, newest first", body = SecretList),
        (status = 400, description = "`invalid_request`: bad prefix, limit or cursor (`details.field`)", body = ErrorBody),
    ),
)]
/// Secret paths with their versions and times, never the values: `prefix` narrows them to one
/// subtree (`infra/aws/`), and they page newest first like every list.
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::SecretsRead>,
    ApiQuery(query): ApiQuery<ListSecrets>,
) -> ApiResult<Json<SecretList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let prefix = query.prefix.unwrap_or_default();
    secret::validate_prefix(&prefix)?;
    let secrets = state
        .store
        .list_secrets(&prefix, page.limit, page.before.clone())
        .await?;
    let next = page.next(
        secrets.last().map(|s| Cursor {
            created_at: timestamp::to_millis(s.created_at),
            id: s.path.clone(),
        }),
        secrets.len(),
    );
    Ok(Json(SecretList {
        secrets: secrets.iter().map(SecretSummary::from).collect(),
        next_cursor: next,
    }))
}

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
