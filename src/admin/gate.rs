//! The dashboard's authentication gate.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{StatusCode, header};
use scaivault_domain::scope::Scope;

use super::{AdminState, login, session};
use crate::api::auth::Principal;

/// Lets a request through with a valid admin principal (bearer token or session cookie), and the
/// login form always; otherwise 401 for `/api/...` and a redirect to the login form for pages.
pub async fn require_admin(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == login::PATH {
        return next.run(request).await;
    }
    let api = path == "/api" || path.starts_with("/api/");
    match principal(&state, request.headers()).await {
        Some(principal) if principal.scopes.contains(&Scope::Admin) => next.run(request).await,
        Some(_) => (StatusCode::FORBIDDEN, "this token lacks the scope admin\n").into_response(),
        None if api => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send Authorization: Bearer <admin token>, or log in at /login\n",
        )
            .into_response(),
        None => Redirect::to(login::PATH).into_response(),
    }
}

/// The caller, from `Authorization: Bearer` or else the session cookie, whose token is looked
/// up again (deleted or expired: the session ends).
async fn principal(state: &AdminState, headers: &http::HeaderMap) -> Option<Principal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
        return state.auth.authenticate(token).await.ok();
    }
    let id = session::from_headers(headers)?;
    let session = state.sessions.get(&id)?;
    match state.auth.recheck(&session.token_id).await {
        Ok(principal) => Some(principal),
        Err(err) => {
            // Only a token that is gone or expired ends the session; a store that cannot
            // answer right now refuses this request alone.
            if err.status == StatusCode::UNAUTHORIZED {
                state.sessions.close(&id);
            }
            None
        }
    }
}
