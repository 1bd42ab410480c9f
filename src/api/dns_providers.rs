//! `/v1/pki/dns-providers` (scope `admin`): where dns-01 writes TXT records. Config values of
//! keys ending in `_path` are secret paths: the secrets are resolved when the provider is used,
//! so credentials never travel through this API.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_domain::dns_provider::{DnsProviderRecord, validate_config};
use scaivault_domain::{ids, timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProvider {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    config: BTreeMap<String, Value>,
}

#[utoipa::path(
    post, path = "/v1/pki/dns-providers", operation_id = "create_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    request_body = CreateProvider,
    responses(
        (status = 201, description = "Created", body = scaivault_domain::dns_provider::DnsProviderRecord),
        (status = 400, description = "`invalid_request`: bad name, type or config (`details.field`)", body = super::schemas::ErrorBody),
        (status = 409, description = "`conflict`", body = super::schemas::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiJson(body): ApiJson<CreateProvider>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "name: 1 to 100 characters"));
    }
    let mut config = BTreeMap::new();
    for (key, value) in body.config {
        let Value::String(text) = value else {
            return Err(ApiError::invalid(
                &format!("config.{key}"),
                format!("config.{key}: values are strings"),
            ));
        };
        config.insert(key, text);
    }
    validate_config(&body.kind, &config)?;
    let record = DnsProviderRecord {
        id: ids::new_id("dnsp"),
        name: name.to_owned(),
        kind: body.kind,
        config,
        created_at: timestamp::now(),
    };
    state.store.insert_dns_provider(&record).await?;
    tracing::info!(provider = %record.id, kind = %record.kind, by = %principal.token_id, "created DNS provider");
    Ok((StatusCode::CREATED, Json(json!(record))))
}

#[utoipa::path(
    get, path = "/v1/pki/dns-providers", operation_id = "list_dns_providers", tag = "dns-providers", security(("bearer" = ["admin"])),
    responses((status = 200, description = "Every DNS provider", body = super::schemas::DnsProviderList)),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
) -> ApiResult<Json<Value>> {
    let providers = state.store.list_dns_providers().await?;
    Ok(Json(json!({ "dns_providers": providers })))
}

#[utoipa::path(
    get, path = "/v1/pki/dns-providers/{id}", operation_id = "get_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "DNS provider id (`dnsp_...`)")),
    responses(
        (status = 200, description = "The DNS provider", body = scaivault_domain::dns_provider::DnsProviderRecord),
        (status = 404, description = "`not_found`", body = super::schemas::ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let provider = state
        .store
        .get_dns_provider(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("DNS provider {id} not found")))?;
    Ok(Json(json!(provider)))
}

#[utoipa::path(
    delete, path = "/v1/pki/dns-providers/{id}", operation_id = "delete_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "DNS provider id (`dnsp_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = super::schemas::ErrorBody),
        (status = 409, description = "`conflict`: an order in flight uses it", body = super::schemas::ErrorBody),
    ),
)]
/// 409 while an order in flight uses the provider (its records must still be removed).
pub async fn delete(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_dns_provider(&id).await? {
        tracing::info!(provider = %id, by = %principal.token_id, "deleted DNS provider");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("DNS provider {id} not found")))
    }
}
