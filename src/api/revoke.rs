//! `POST /v1/pki/revoke` (scope `pki:write`): revoke a certificate issued here, by serial.
//!
//! With `use_acme` the CA is told first (RFC 8555 §7.6, through the account that ordered the
//! certificate), then the version, its order and (for the current version) the managed
//! certificate are marked revoked here with a `certificate.revoked` event; without it only the
//! marks are made. See `Accounts::revoke` (actors) for why the steps come in that order.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_actors::{Error as ActorError, ProblemKind};
use scaivault_contract::{ErrorBody, ErrorCode, RevokeBody, Revoked};
use scaivault_domain::pki::serial_with_colons;
use scaivault_domain::revocation::{RevocationReason, RevokeRequest};
use serde_json::json;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use crate::state::AppState;

#[utoipa::path(
    post, path = "/v1/pki/revoke", operation_id = "revoke_certificate", tag = "certificates", security(("bearer" = ["pki:write"])),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "Revoked", body = Revoked),
        (status = 400, description = "`invalid_request`: bad serial_number or reason (`details.field`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no certificate with that serial was issued here", body = ErrorBody),
        (status = 409, description = "`conflict`: already revoked, the account is deactivated, or the CA says `alreadyRevoked`", body = ErrorBody),
        (status = 429, description = "`backend_rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA refused or could not be reached", body = ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Authorized<need::PkiWrite>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Json<Revoked>> {
    let request = RevokeRequest::new(
        body.serial_number.as_deref().unwrap_or_default(),
        body.reason.map(|r| RevocationReason::from(r).as_str()),
        body.use_acme,
    )?;
    let revoked = state
        .accounts
        .revoke(&request)
        .await
        .map_err(|err| ca_refusal(err, &request))?;
    let revocation = &revoked.revocation;
    tracing::info!(certificate = %revocation.certificate_id, version = revocation.version,
        by = %principal.token_id, "revocation requested through the API");
    Ok(Json(Revoked {
        serial_number: serial_with_colons(&revocation.serial_number),
        certificate_id: revocation.certificate_id.clone(),
        version: revocation.version,
        order_id: revocation.order_id.clone(),
        status: "revoked".to_owned(),
        reason: revocation.revocation.reason.into(),
        revoked_at: revocation.revocation.at,
        via_acme: revocation.revocation.via_acme,
        certificate_revoked: revoked.certificate_revoked,
    }))
}

/// Revocation's own reading of the CA's problems (RFC 8555 §7.6): `alreadyRevoked` is a 409
/// conflict like a second revocation here — with the hint that the CA's state can be recorded
/// without it — and any other refusal (`unauthorized`, `badRevocationReason`, ...) is a 502
/// `backend_error` carrying the CA's problem, since the request was valid here and it is the
/// backend that would not act. A rate limit keeps its 429 with `Retry-After`. Nothing has
/// been marked in any of these cases.
fn ca_refusal(err: ActorError, request: &RevokeRequest) -> ApiError {
    let serial = serial_with_colons(&request.serial);
    match err {
        ActorError::Acme { problem } if problem.kind == ProblemKind::RateLimited => {
            ActorError::Acme { problem }.into()
        }
        ActorError::Acme { problem } => {
            let detail = problem.detail_or_kind();
            if problem.kind == ProblemKind::AlreadyRevoked {
                ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::Conflict,
                    format!(
                        "the CA reports the certificate with serial {serial} already revoked \
                         ({detail}); nothing was marked here: revoke with use_acme false to \
                         record it"
                    ),
                )
                .with_details(json!({ "ca_problem": problem }))
            } else {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::BackendError,
                    format!(
                        "the CA refused to revoke the certificate with serial {serial}: {detail}"
                    ),
                )
                .with_details(json!({ "reason": detail, "ca_problem": problem }))
            }
        }
        other => other.into(),
    }
}
