//! `/v1/pki/dns-providers` (scope `admin`): where dns-01 writes TXT records. Config values of
//! keys ending in `_path` are secret paths: the secrets are resolved when the provider is used,
//! so credentials never travel through this API.
//!
//! A provider sends the secrets it names to its endpoint, so creating one takes what reading
//! them takes (`secrets:read` for any `_path` key), and its endpoints must pass the endpoint
//! policy (`[dns] allow_insecure_endpoints`): https and public addresses only by default.
//!
//! `POST .../{id}/test` runs dns-01's steps on a probe record (`scaivault_actors::DnsProbe`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_actors::DnsProbeError;
use scaivault_contract::{
    CreateDnsProvider, DnsProvider, DnsProviderList, DnsProviderTest, ErrorBody, ErrorCode,
    PageQuery, TestDnsProvider,
};
use scaivault_dns::{DnsError, ENDPOINT_KEYS, EndpointRefused, check_endpoint};
use scaivault_domain::dns_provider::{DnsProviderRecord, normalize_zones, validate_config};
use scaivault_domain::order::ChallengeType;
use scaivault_domain::scope::Scope;
use scaivault_domain::{ids, pki, timestamp};
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

#[utoipa::path(
    post, path = "/v1/pki/dns-providers/{id}/test", operation_id = "test_dns_provider", tag = "dns-providers", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "DNS provider id (`dnsp_...`)")),
    request_body = TestDnsProvider,
    responses(
        (status = 200, description = "The probe was written, served by every authoritative nameserver, and removed (`removed: false` with `removal_error` if the removal failed)", body = DnsProviderTest),
        (status = 400, description = "`invalid_request`: `domain` is not a domain name an order could name (`details.field`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such provider", body = ErrorBody),
        (status = 502, description = "`backend_error`: the provider failed or refused, a secret it names is missing, or the nameservers could not be found (`details.stage`, `details.failure`, `details.removed`)", body = ErrorBody),
        (status = 504, description = "`dns_propagation_timeout`: not served by every authoritative nameserver within `[dns] propagation_timeout` (`details.fqdn`, `details.removed`)", body = ErrorBody),
    ),
)]
/// Writes a random TXT value at `_acme-challenge.<domain>` (or where a CNAME there points)
/// through the provider, waits until every authoritative nameserver serves it, as dns-01 does
/// before telling the CA, and removes it. Takes up to `[dns] propagation_timeout`.
pub async fn test(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TestDnsProvider>,
) -> ApiResult<Json<DnsProviderTest>> {
    // The names a dns-01 order accepts, wildcards included (their record is the base name's);
    // not IP addresses, which dns-01 cannot validate.
    let domain = pki::normalize_domains(std::slice::from_ref(&body.domain), true)
        .and_then(|domains| {
            pki::check_challenge_type(&domains, ChallengeType::Dns01).map(|()| domains)
        })
        .map_err(|err| match err {
            scaivault_domain::Error::Invalid { message, .. } => {
                ApiError::invalid("domain", format!("domain: {message}"))
            }
            other => other.into(),
        })?
        .remove(0);
    tracing::info!(provider = %id, domain = %domain, by = %principal.token_id, "testing DNS provider");
    let probe = state
        .orders
        .test_dns_provider(&id, &domain)
        .await
        .map_err(|err| probe_error(&id, err))?;
    Ok(Json(DnsProviderTest {
        fqdn: probe.fqdn,
        propagation_ms: u64::try_from(probe.propagation.as_millis()).unwrap_or(u64::MAX),
        removed: probe.removal.is_ok(),
        removal_error: probe.removal.err().map(|err| err.to_string()),
    }))
}

/// A failed test as the API says it. The provider's errors are `DnsError`s, whose messages the
/// providers already reduce to a status and a sanitized detail (never a raw response body), as
/// an invalid dns-01 order's error shows them.
fn probe_error(provider_id: &str, err: DnsProbeError) -> ApiError {
    match err {
        DnsProbeError::Setup(err) => err.into(),
        DnsProbeError::Failed {
            stage,
            fqdn,
            error,
            removal,
        } => {
            let mut details = json!({
                "stage": stage.code(),
                "failure": error.code(),
                "fqdn": fqdn,
            });
            if let Some(removal) = &removal {
                details["removed"] = json!(removal.is_ok());
                if let Err(removal_error) = removal {
                    details["removal_error"] = json!(removal_error.to_string());
                }
            }
            if matches!(error, DnsError::NotPropagated(_)) {
                ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    ErrorCode::DnsPropagationTimeout,
                    format!("DNS provider {provider_id}: {fqdn}: {error}"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::BackendError,
                    format!("DNS provider {provider_id}: {fqdn}: {stage}: {error}"),
                )
            }
            .with_details(details)
        }
    }
}
