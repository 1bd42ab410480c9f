//! The console's authentication gate.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{StatusCode, header};
use scaivault_domain::scope::Scope;

use super::session::Session;
use super::{AdminState, csrf, login};
use crate::api::auth::Principal;

/// Lets a request through with a valid admin principal (bearer token or session cookie), and the
/// login form and the stylesheet always; otherwise 401 for `/api/...` and a redirect to the
/// login form for pages. The caller's [`Principal`] (and [`Session`], when it came with one)
/// travel on in the request's extensions; a form posted with a session must carry its CSRF
/// token.
pub async fn require_admin(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == login::PATH || path == super::assets::STYLESHEET {
        return next.run(request).await;
    }
    let api = path == "/api" || path.starts_with("/api/");
    match caller(&state, request.headers()).await {
        Some((principal, session)) if principal.scopes.contains(&Scope::Admin) => {
            if let Some(session) = &session
                && !api
                && request.method() == http::Method::POST
            {
                request = match csrf::verify(request, &session.csrf).await {
                    Ok(request) => request,
                    Err(refused) => return refused,
                };
            }
            request.extensions_mut().insert(principal);
            if let Some(session) = session {
                request.extensions_mut().insert(session);
            }
            next.run(request).await
        }
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
async fn caller(
    state: &AdminState,
    headers: &http::HeaderMap,
) -> Option<(Principal, Option<Session>)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
        return state
            .app
            .auth
            .authenticate(token)
            .await
            .ok()
            .map(|p| (p, None));
    }
    let id = super::session::from_headers(headers)?;
    let session = state.sessions.get(&id)?;
    match state.app.auth.recheck(&session.token_id).await {
        Ok(principal) => Some((principal, Some(session))),
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
