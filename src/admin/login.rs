//! The login form: POST a token with the `admin` scope; on success an HttpOnly, SameSite=Strict
//! cookie (also Secure when the listener serves TLS) carries a random session id (never the
//! token) and the browser goes to the console's overview.

use axum::Form;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use scaivault_domain::scope::Scope;
use serde::Deserialize;

use maud::{DOCTYPE, html};

use super::{AdminState, assets, session};

/// Where the form lives.
pub const PATH: &str = "/login";

/// The form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

fn render(message: &str) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "Log in · ScaiVault ACME console" }
                    link rel="stylesheet" href=(assets::STYLESHEET);
                }
                body {
                    main id="main" class="narrow" {
                        h1 { "ScaiVault ACME console" }
                        p id="message" { (message) }
                        form id="login" class="stack card" method="post" action=(PATH) {
                            label for="token" { "Admin token" }
                            input id="token" name="token" type="password" autocomplete="off" required;
                            button type="submit" { "Log in" }
                        }
                    }
                }
            }
        }
        .into_string(),
    )
}

/// `GET /login`.
pub async fn page() -> Html<String> {
    render("Log in with a token that has the admin scope.")
}

/// `POST /login`.
pub async fn submit(State(state): State<AdminState>, Form(form): Form<LoginForm>) -> Response {
    match state.app.auth.authenticate(form.token.trim()).await {
        Ok(principal) if principal.scopes.contains(&Scope::Admin) => {
            let (id, lifetime) = state.sessions.open(&principal);
            let cookie = format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                session::COOKIE,
                lifetime.as_secs(),
                secure(&state)
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(_) => (
            StatusCode::FORBIDDEN,
            render("That token lacks the admin scope."),
        )
            .into_response(),
        Err(_) => (StatusCode::UNAUTHORIZED, render("That token is not valid.")).into_response(),
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some(id) = session::from_headers(&headers) {
        state.sessions.close(&id);
    }
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        session::COOKIE,
        secure(&state)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(PATH)).into_response()
}

/// The cookie attribute that keeps the session off plain HTTP, when the listener serves TLS.
fn secure(state: &AdminState) -> &'static str {
    if state.secure_cookies { "; Secure" } else { "" }
}
