//! ACME accounts: the list, registration (with EAB fields for the CAs that need them), one
//! account with its local rate-limit state, and deactivation after a confirmation.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};
use scaivault_contract::{Account, Eab, Environment, PageQuery, Provider, Register};
use serde::Deserialize;

use super::AdminState;
use super::health;
use super::page::{self, Confirm, Ctx, Section, badge, when};
use crate::api::accounts as api;
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};

/// `GET /accounts`.
pub async fn list(State(state): State<AdminState>, ctx: Ctx) -> Response {
    let result = async {
        Ok(page::ok(
            &ctx,
            Section::Accounts,
            "ACME accounts",
            render_list(&state, &ctx, &RegisterForm::default(), None).await?,
        ))
    }
    .await;
    page::show(&ctx, Section::Accounts, "ACME accounts", result)
}

async fn render_list(
    state: &AdminState,
    ctx: &Ctx,
    values: &RegisterForm,
    problem: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let accounts = api::list(
        State(state.app.clone()),
        ctx.grant()?,
        ApiQuery(PageQuery {
            limit: Some(100),
            cursor: None,
        }),
    )
    .await?
    .0
    .accounts;
    let providers = api::providers(State(state.app.clone()), ctx.grant()?)
        .await?
        .0
        .providers;
    Ok(html! {
        div class="table-wrap" {
            table id="accounts" {
                thead { tr { th { "Name" } th { "CA" } th { "Email" } th { "Status" } th { "Registered" } } }
                tbody {
                    @for a in &accounts {
                        tr data-id=(a.id) {
                            td { a href={ "/accounts/" (a.id) } { (a.name) } }
                            td { (a.provider.as_str()) " " span class="muted" { (a.environment.as_str()) } }
                            td { (a.email) }
                            td { (badge(a.status.as_str())) }
                            td { (when(a.created_at)) }
                        }
                    }
                }
            }
        }
        h2 id="register-h" { "Register an account" }
        @if let Some(err) = problem { (page::problem(err)) }
        form id="register" class="stack card" method="post" action="/accounts" aria-labelledby="register-h" {
            (ctx.csrf_field())
            label { "Name" input type="text" name="name" id="name" value=(values.name) required maxlength="100"; }
            label { "CA"
                select name="provider" id="provider" {
                    @for p in &providers {
                        option value=(p.name.as_str()) selected[values.provider == p.name.as_str()] {
                            (p.display_name) @if p.eab_required { " (needs EAB)" }
                        }
                    }
                }
            }
            label { "Environment"
                select name="environment" id="environment" {
                    @for e in [Environment::Production, Environment::Staging] {
                        option value=(e.as_str()) selected[values.environment == e.as_str()] { (e.as_str()) }
                    }
                }
            }
            label { "Contact email" input type="email" name="email" id="email" value=(values.email) required; }
            label { "Directory URL (custom CA only)" input type="url" name="directory_url" id="directory_url" value=(values.directory_url) placeholder="https://acme.example/directory"; }
            fieldset {
                legend { "External Account Binding (CAs that need it, e.g. Google Trust Services)" }
                label { "EAB key id" input type="text" name="eab_kid" id="eab_kid" value=(values.eab_kid) autocomplete="off"; }
                label { "EAB HMAC key (base64url)" input type="password" name="eab_hmac_key" id="eab_hmac_key" autocomplete="off"; }
            }
            label { "ZeroSSL API key secret path (optional)" input type="text" name="zerossl_api_key_path" value=(values.zerossl_api_key_path); }
            div { button type="submit" { "Register" } }
        }
    })
}

/// The registration form's fields (the HMAC key is never rendered back).
#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    directory_url: String,
    #[serde(default)]
    eab_kid: String,
    #[serde(default)]
    eab_hmac_key: String,
    #[serde(default)]
    zerossl_api_key_path: String,
}

fn enum_field<T: serde::de::DeserializeOwned>(field: &str, value: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        ApiError::invalid(
            field,
            format!("{field}: {value:?} is not one of the choices"),
        )
    })
}

impl RegisterForm {
    fn body(&self) -> Result<Register, ApiError> {
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let provider: Provider = enum_field("provider", &self.provider)?;
        let environment: Option<Environment> = match self.environment.as_str() {
            "" => None,
            value => Some(enum_field("environment", value)?),
        };
        let eab = match (non_empty(&self.eab_kid), non_empty(&self.eab_hmac_key)) {
            (None, None) => None,
            (kid, hmac_key) => Some(Eab {
                kid: kid.unwrap_or_default(),
                hmac_key: hmac_key.unwrap_or_default(),
            }),
        };
        Ok(Register {
            name: self.name.clone(),
            provider,
            environment,
            email: self.email.trim().to_owned(),
            directory_url: non_empty(&self.directory_url),
            eab,
            zerossl_api_key_path: non_empty(&self.zerossl_api_key_path),
        })
    }
}

/// `POST /accounts`: registers through the API's handler, then shows the account.
pub async fn register(
    State(state): State<AdminState>,
    ctx: Ctx,
    Form(values): Form<RegisterForm>,
) -> Response {
    let registered = async {
        api::register(
            State(state.app.clone()),
            ctx.grant()?,
            ApiJson(values.body()?),
        )
        .await
    }
    .await;
    match registered {
        Ok((_, account)) => Redirect::to(&format!("/accounts/{}", account.0.id)).into_response(),
        Err(err) => {
            let result = async {
                Ok(page::with_status(
                    err.status,
                    &ctx,
                    Section::Accounts,
                    "ACME accounts",
                    render_list(&state, &ctx, &values, Some(&err)).await?,
                ))
            }
            .await;
            page::show(&ctx, Section::Accounts, "ACME accounts", result)
        }
    }
}

/// `GET /accounts/{id}`.
pub async fn detail(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = async {
        let account = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        let health = health::of_account(&state, &account).await?;
        Ok(page::ok(
            &ctx,
            Section::Accounts,
            &account.name,
            render(&ctx, &account, &health, None),
        ))
    }
    .await;
    page::show(&ctx, Section::Accounts, "ACME account", result)
}

fn render(
    ctx: &Ctx,
    a: &Account,
    health: &health::AccountHealth,
    problem: Option<&ApiError>,
) -> Markup {
    html! {
        @if let Some(err) = problem { (page::problem(err)) }
        section class="card" {
            dl class="facts" id="facts" {
                dt { "Id" } dd { code { (a.id) } }
                dt { "CA" } dd { (a.provider.as_str()) " " (a.environment.as_str()) }
                dt { "Directory" } dd { code { (a.directory_url) } }
                dt { "Account URL" } dd { code { (a.account_url) } }
                dt { "Email" } dd { (a.email) }
                @if let Some(kid) = &a.eab_kid { dt { "EAB key id" } dd { code { (kid) } } }
                dt { "Status" } dd id="account-status" { (badge(a.status.as_str())) }
                dt { "Registered" } dd { (when(a.created_at)) }
                @if let Some(thumbprint) = &a.key_thumbprint { dt { "Key thumbprint" } dd { code { (thumbprint) } } }
                @if let Some(at) = a.key_rolled_at { dt { "Key rolled over" } dd { (when(at)) } }
                @if let Some(at) = a.deactivated_at { dt { "Deactivated" } dd { (when(at)) } }
            }
        }
        section class="card" aria-labelledby="limits-h" {
            h2 id="limits-h" { "Rate limits (local ledger)" }
            (health::limits_table(health))
            @if let Some(e) = &health.last_error { p { "Last failure: " (e) } }
        }
        @if a.status.as_str() == "active" {
            section class="card" aria-labelledby="deactivate-h" {
                h2 id="deactivate-h" { "Deactivate" }
                p { "Deactivating tells the CA the account is done (RFC 8555 §7.3.6); orders in flight end, and certificates issued through it stop renewing. It cannot be undone." }
                form id="deactivate" class="stack" method="post" action={ "/accounts/" (a.id) "/deactivate" } {
                    (ctx.csrf_field())
                    label class="check" { input type="checkbox" name="confirm" value="yes" required; "Yes, deactivate this account" }
                    div { button type="submit" class="danger" { "Deactivate account" } }
                }
            }
        }
    }
}

/// `POST /accounts/{id}/deactivate`.
pub async fn deactivate(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<Confirm>,
) -> Response {
    let result = async {
        if !form.given() {
            let account = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
                .await?
                .0;
            let health = health::of_account(&state, &account).await?;
            let err = ApiError::invalid("confirm", "confirm the deactivation: tick the box");
            return Ok(page::with_status(
                StatusCode::BAD_REQUEST,
                &ctx,
                Section::Accounts,
                &account.name,
                render(&ctx, &account, &health, Some(&err)),
            ));
        }
        let _deactivated =
            api::deactivate(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone())).await?;
        Ok(Redirect::to(&format!("/accounts/{id}")).into_response())
    }
    .await;
    page::show(&ctx, Section::Accounts, "ACME account", result)
}
