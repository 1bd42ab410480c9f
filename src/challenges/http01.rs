//! http-01 (RFC 8555 §8.3): `GET /.well-known/acme-challenge/{token}` answers the key
//! authorization of an unfinished order's challenge.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scaivault_contract::ErrorBody;
use scaivault_domain::SharedStore;

use crate::api::error::ApiError;
use crate::api::extract::ApiPath;

/// The route's path (as its annotation spells it; `openapi::tests` checks they agree).
pub const PATH: &str = "/.well-known/acme-challenge/{token}";

/// Answers one token. Tokens are base64url (RFC 8555 §8.1); anything else cannot be ours.
/// Also served on `[challenges] http01_listen`.
#[utoipa::path(
    get, path = "/.well-known/acme-challenge/{token}", operation_id = "acme_challenge", tag = "challenges",
    params(("token" = String, Path, description = "The challenge token (base64url, RFC 8555 §8.1)")),
    responses(
        (status = 200, description = "The key authorization of an unfinished order's challenge with this token, as the CA fetches it (RFC 8555 §8.3)", content_type = "application/octet-stream", body = String),
        (status = 404, description = "No pending challenge with this token", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    ),
)]
pub async fn respond(
    State(store): State<SharedStore>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    let plausible = !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let unknown = || ApiError::not_found("no pending challenge with this token");
    if !plausible {
        return Err(unknown());
    }
    let key_authorization = store
        .http01_key_authorization(&token)
        .await?
        .ok_or_else(unknown)?;
    tracing::debug!(token = %token, "answered http-01 challenge");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        key_authorization,
    )
        .into_response())
}

/// A router answering only http-01, for `[challenges] http01_listen`.
pub fn router(store: SharedStore) -> Router {
    Router::new()
        .route(PATH, get(respond))
        .fallback(|| async {
            ApiError::not_found("this listener only answers ACME http-01 challenges")
        })
        .with_state(store)
}
