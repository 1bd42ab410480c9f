//! `/v1/pki/dns-providers` (scope `admin`): where dns-01 writes TXT records. Config values of
//! keys ending in `_path` are secret paths: the secrets are resolved when the provider is used,
//! so credentials never travel through this API.
//!
//! A provider sends the secrets it names to its endpoint, so creating one takes what reading
//! them takes (`secrets:read` for any `_path` key), and its endpoints must pass the endpoint
//! policy (`[dns] allow_insecure_endpoints`): https and public addresses only by default.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{CreateDnsProvider, DnsProvider, DnsProviderList, ErrorBody, PageQuery};
use scaivault_dns::{ENDPOINT_KEYS, EndpointRefused, check_endpoint};
use scaivault_domain::dns_provider::{DnsProviderRecord, normalize_zones, validate_config};
use scaivault_domain::scope::Scope;
use scaivault_domain::{ids, timestamp};
use serde_json::json;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    post, path = "/v1/pki/dns-providers", operation_id = "create_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    request_body = CreateDnsProvider,
    responses(
        (status = 201, description = "Created", body = DnsProvider),
        (status = 400, description = "`invalid_request`: bad name, type or config (`details.field`); an endpoint refused by policy (`details.reason`)", body = ErrorBody),
        (status = 403, description = "`forbidden`: a `_path` key names a secret and the token lacks `secrets:read`", body = ErrorBody),
        (status = 409, description = "`conflict`: the name is taken, or another provider is already the default", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiJson(body): ApiJson<CreateDnsProvider>,
) -> ApiResult<(StatusCode, Json<DnsProvider>)> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "name: 1 to 100 characters"));
    }
    let config = body.config;
    validate_config(&body.kind, &config)?;
    // The provider will send these secrets to its endpoint: only a caller who may read them
    // may have them used.
    if let Some(key) = config.keys().find(|key| key.ends_with("_path")) {
        principal.0.require(Scope::SecretsRead).map_err(|mut err| {
            err.message = format!(
                "config.{key} names a secret: creating a DNS provider that uses secrets needs \
                 the scope {}",
                Scope::SecretsRead
            );
            err.details = Some(json!({
                "field": format!("config.{key}"),
                "required_scope": Scope::SecretsRead.as_str(),
            }));
            err
        })?;
    }
    // Checked now as on every connection: an endpoint refused later fails its orders instead.
    for key in ENDPOINT_KEYS {
        if let Some(url) = config.get(key) {
            check_endpoint(url, state.dns_endpoints)
                .await
                .map_err(|refused| refused_endpoint(key, &refused))?;
        }
    }
    let zones = normalize_zones(body.zones.as_deref().unwrap_or_default())?;
    let record = DnsProviderRecord {
        id: ids::new_id("dnsp"),
        name: name.to_owned(),
        kind: body.kind,
        config,
        zones,
        is_default: body.default.unwrap_or(false),
        created_at: timestamp::now(),
    };
    state.store.insert_dns_provider(&record).await?;
    tracing::info!(provider = %record.id, kind = %record.kind, by = %principal.token_id, "created DNS provider");
    Ok((StatusCode::CREATED, Json(DnsProvider::from(&record))))
}

/// A 400 naming the config key and the refusal code.
fn refused_endpoint(key: &str, refused: &EndpointRefused) -> ApiError {
    let field = format!("config.{key}");
    ApiError::invalid(&field, format!("{field}: {refused}"))
        .with_details(json!({ "field": field, "reason": refused.reason }))
}

#[utoipa::path(
    get, path = "/v1/pki/dns-providers", operation_id = "list_dns_providers", tag = "dns-providers", security(("bearer" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of DNS providers, newest first", body = DnsProviderList),
        (status = 400, description = "`invalid_request`: bad limit or cursor", body = ErrorBody),
    ),
)]
/// DNS providers, newest first, `limit` (default 50, at most 100) per page; `next_cursor` continues.
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<DnsProviderList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let providers = state
        .store
        .dns_providers_page(page.limit, page.before.clone())
        .await?;
    let next = page.next(
        providers.last().map(|p| Cursor {
            created_at: timestamp::to_millis(p.created_at),
            id: p.id.clone(),
        }),
        providers.len(),
    );
    Ok(Json(DnsProviderList {
        dns_providers: providers.iter().map(DnsProvider::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    get, path = "/v1/pki/dns-providers/{id}", operation_id = "get_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "DNS provider id (`dnsp_...`)")),
    responses(
        (status = 200, description = "The DNS provider", body = DnsProvider),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DnsProvider>> {
    let provider = state
        .store
        .get_dns_provider(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("DNS provider {id} not found")))?;
    Ok(Json(DnsProvider::from(&provider)))
}

#[utoipa::path(
    delete, path = "/v1/pki/dns-providers/{id}", operation_id = "delete_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "DNS provider id (`dnsp_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: an order in flight uses it", body = ErrorBody),
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
