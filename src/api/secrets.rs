//! `/v1/secrets/{path}`: values sealed at rest under the master key, with the path as associated
//! data. DNS providers refer to these paths for their credentials.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_domain::secret::{self, SecretRecord};
use scaivault_domain::timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    value: String,
}

pub async fn put(
    State(state): State<AppState>,
    principal: Authorized<need::SecretsWrite>,
    ApiPath(path): ApiPath<String>,
    ApiJson(body): ApiJson<PutSecret>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    Ok((status, Json(json!(stored))))
}

pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::SecretsRead>,
    ApiPath(path): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    secret::validate_path(&path)?;
    let stored = state
        .store
        .get_secret(&path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no secret at {path}")))?;
    let plain = state.key.open(&secret::aad(&path), &stored.sealed)?;
    let value = String::from_utf8(plain).map_err(ApiError::internal)?;
    let mut body = json!(stored);
    body["value"] = Value::String(value);
    Ok(Json(body))
}

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
