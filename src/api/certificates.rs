//! `/v1/pki/certificates`: managed certificates with their versions, the current chain, and the
//! current private key (scope `pki:keys`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use scaivault_contract::{
    Certificate, CertificateDetail, CertificateList, CertificateVersion, ErrorBody, ErrorCode,
    PageQuery, RenewalOrder,
};
use scaivault_domain::certificate::{CertificateRecord, version_key_aad};
use scaivault_domain::timestamp;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    get, path = "/v1/pki/certificates", operation_id = "list_certificates", tag = "certificates", security(("bearer" = ["pki:read"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of managed certificates, newest first", body = CertificateList),
        (status = 400, description = "`invalid_request`: bad limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<CertificateList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let certificates = state
        .store
        .list_certificates(page.limit, page.before.clone())
        .await?;
    let next = page.next(
        certificates.last().map(|c| Cursor {
            created_at: timestamp::to_millis(c.created_at),
            id: c.id.clone(),
        }),
        certificates.len(),
    );
    Ok(Json(CertificateList {
        certificates: certificates.iter().map(Certificate::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    get, path = "/v1/pki/certificates/{id}", operation_id = "get_certificate", tag = "certificates", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Certificate id (`cert_...`)")),
    responses(
        (status = 200, description = "The certificate with its versions", body = CertificateDetail),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CertificateDetail>> {
    let certificate = find(&state, &id).await?;
    let versions = state.store.certificate_versions(&id).await?;
    Ok(Json(CertificateDetail {
        certificate: Certificate::from(&certificate),
        versions: versions.iter().map(CertificateVersion::from).collect(),
    }))
}

#[utoipa::path(
    get, path = "/v1/pki/certificates/{id}/pem", operation_id = "get_certificate_pem", tag = "certificates", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Certificate id (`cert_...`)")),
    responses(
        (status = 200, description = "The current chain, leaf first", content_type = "application/x-pem-file", body = String),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
/// The current chain, leaf first.
pub async fn pem(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let certificate = find(&state, &id).await?;
    let versions = state.store.certificate_versions(&id).await?;
    let current = versions
        .iter()
        .find(|v| v.version == certificate.current_version)
        .ok_or_else(|| ApiError::internal(format!("certificate {id} lacks its current version")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        current.chain_pem.clone(),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/v1/pki/certificates/{id}/key", operation_id = "get_certificate_key", tag = "certificates", security(("bearer" = ["pki:keys"])),
    params(("id" = String, Path, description = "Certificate id (`cert_...`)")),
    responses(
        (status = 200, description = "The current private key, PKCS#8 PEM", content_type = "application/x-pem-file", body = String),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`no_private_key`: issued from the caller's CSR", body = ErrorBody),
    ),
)]
/// The current private key (PKCS#8 PEM). Refused when the caller supplied the CSR: then the
/// service never had the key.
pub async fn key(
    State(state): State<AppState>,
    principal: Authorized<need::PkiKeys>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let certificate = find(&state, &id).await?;
    let version = certificate.current_version;
    let sealed = state.store.version_key(&id, version).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoPrivateKey,
            format!("certificate {id} was issued from the caller's CSR; the service holds no private key for it"),
        )
    })?;
    let pem = state.key.open(&version_key_aad(&id, version), &sealed)?;
    tracing::info!(certificate = %id, version, by = %principal.token_id, "private key read");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        pem,
    )
        .into_response())
}

#[utoipa::path(
    post, path = "/v1/pki/certificates/{id}/renew", operation_id = "renew_certificate", tag = "certificates", security(("bearer" = ["pki:write"])),
    params(("id" = String, Path, description = "Certificate id (`cert_...`)")),
    responses(
        (status = 202, description = "The renewal order (`joined` when one was already in flight)", body = RenewalOrder),
        (status = 400, description = "`caa_forbidden` (CAA records now forbid this CA, account or challenge type for a name; `details.denials`) or `ca_rejected` (`details.ca_problem`)", body = ErrorBody),
        (status = 403, description = "`account_paused`: the CA paused issuance through the account for some of the names (`details.identifiers`, `details.unpause_url`, `details.since`); waiting does not lift it, the unpause link does", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: e.g. the account is deactivated", body = ErrorBody),
        (status = 429, description = "`rate_limited` or `backend_rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA failed or could not be reached", body = ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = ErrorBody),
    ),
)]
/// Renews now (also with auto_renew off): 202 with the renewal order; a renewal already in
/// flight is returned instead of starting a second (`"joined": true`).
pub async fn renew(
    State(state): State<AppState>,
    caller: Authorized<need::PkiWrite>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<RenewalOrder>)> {
    state.order_rate.admit(&caller.0.token_id)?;
    let (order, challenges, joined) = state.orders.renew(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RenewalOrder::new(&order, &challenges, joined)),
    ))
}

/// The certificate `id`, or 404.
async fn find(state: &AppState, id: &str) -> ApiResult<CertificateRecord> {
    state
        .store
        .get_certificate(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("certificate {id} not found")))
}
