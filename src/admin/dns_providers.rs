//! PKI → DNS providers: the list with each provider's last failure, creation with secret
//! references picked from the secret paths that exist (values are never shown, nor held here),
//! deletion, and a test that writes and removes a probe TXT record and says how long it took
//! to be seen.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};
use scaivault_contract::{CreateDnsProvider, DnsProvider, ListSecrets, PageQuery, TestDnsProvider};
use scaivault_domain::dns_provider::{SPECS, spec};
use scaivault_domain::scope::Scope;
use serde::Deserialize;

use super::AdminState;
use super::health;
use super::page::{self, Confirm, Ctx, Section};
use crate::api::dns_providers as api;
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};

/// Config keys' form fields are named `cfg.<key>`.
const CONFIG_PREFIX: &str = "cfg.";

async fn providers(state: &AdminState, ctx: &Ctx) -> Result<Vec<DnsProvider>, ApiError> {
    Ok(api::list(
        State(state.app.clone()),
        ctx.grant()?,
        ApiQuery(PageQuery {
            limit: Some(100),
            cursor: None,
        }),
    )
    .await?
    .0
    .dns_providers)
}

/// `GET /dns-providers`.
pub async fn list(State(state): State<AdminState>, ctx: Ctx) -> Response {
    let result = async {
        let providers = providers(&state, &ctx).await?;
        let failed = health::failed_orders(&state).await?;
        let body = html! {
            div class="table-wrap" {
                table id="dns-providers" {
                    thead { tr { th { "Name" } th { "Type" } th { "Zones" } th { "Last failure" } } }
                    tbody {
                        @for p in &providers {
                            tr data-id=(p.id) {
                                td { a href={ "/dns-providers/" (p.id) } { (p.name) } @if p.default { " " span class="muted" { "(default)" } } }
                                td { (p.kind) }
                                td { (p.zones.join(", ")) }
                                td { @match failed.iter().find(|o| o.dns_provider_id.as_deref() == Some(p.id.as_str())) {
                                        Some(order) => { (health::failure(order)) },
                                        None => { span class="muted" { "none recently" } },
                                } }
                            }
                        }
                    }
                }
            }
            h2 id="new-h" { "Add a DNS provider" }
            form id="new-dns" class="inline card" method="get" action="/dns-providers/new" aria-labelledby="new-h" {
                label { "Type"
                    select name="type" id="type" {
                        @for s in SPECS { option value=(s.kind) { (s.kind) } }
                    }
                }
                button type="submit" { "Continue" }
            }
        };
        Ok(page::ok(&ctx, Section::DnsProviders, "DNS providers", body))
    }
    .await;
    page::show(&ctx, Section::DnsProviders, "DNS providers", result)
}

/// `GET /dns-providers/new?type=`.
#[derive(Debug, Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    kind: String,
}

/// `GET /dns-providers/new`: the form for one type, with that type's keys.
pub async fn new(
    State(state): State<AdminState>,
    ctx: Ctx,
    Query(query): Query<NewQuery>,
) -> Response {
    let result = async {
        let body = create_form(&state, &ctx, &query.kind, &[], None).await?;
        Ok(page::ok(
            &ctx,
            Section::DnsProviders,
            "Add a DNS provider",
            body,
        ))
    }
    .await;
    page::show(&ctx, Section::DnsProviders, "Add a DNS provider", result)
}

/// The secret paths the caller may pick from (their values never leave the API), or `None`
/// when the caller cannot read secrets (then a provider that uses them cannot be created).
async fn secret_paths(state: &AdminState, ctx: &Ctx) -> Result<Option<Vec<String>>, ApiError> {
    if !ctx.may(Scope::SecretsRead) {
        return Ok(None);
    }
    let mut paths = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = crate::api::secrets::list(
            State(state.app.clone()),
            ctx.grant()?,
            ApiQuery(ListSecrets {
                prefix: None,
                limit: Some(100),
                cursor,
            }),
        )
        .await?
        .0;
        paths.extend(page.secrets.into_iter().map(|s| s.path));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(Some(paths))
}

async fn create_form(
    state: &AdminState,
    ctx: &Ctx,
    kind: &str,
    values: &[(String, String)],
    problem: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let spec = spec(kind)?;
    let secrets = secret_paths(state, ctx).await?;
    let value = |name: &str| {
        values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut keys: Vec<(&str, bool)> = spec.required.iter().map(|k| (*k, true)).collect();
    keys.extend(spec.optional.iter().map(|k| (*k, false)));
    if !keys.iter().any(|(k, _)| *k == "endpoint") {
        keys.push(("endpoint", false));
    }
    Ok(html! {
        @if let Some(err) = problem { (page::problem(err)) }
        form id="create-dns" class="stack card" method="post" action="/dns-providers" {
            (ctx.csrf_field())
            input type="hidden" name="type" value=(spec.kind);
            p { "Type: " code { (spec.kind) } }
            label { "Name" input type="text" name="name" id="name" value=(value("name")) required maxlength="100"; }
            label { "Zones it serves (space or comma separated)" input type="text" name="zones" id="zones" value=(value("zones")) placeholder="example.com"; }
            label class="check" { input type="checkbox" name="default" value="yes" checked[value("default") == "yes"]; "Default provider (for names no zone contains)" }
            fieldset {
                legend { "Settings" }
                @for (key, required) in &keys {
                    @let field = format!("{CONFIG_PREFIX}{key}");
                    @if key.ends_with("_path") {
                        label { (key) " (secret)" @if *required { " *" }
                            @match &secrets {
                                Some(paths) => {
                                    select name=(field) id=(field) required[*required] {
                                        option value="" { "— choose a secret —" }
                                        @for path in paths { option value=(path) selected[value(&field) == path] { (path) } }
                                    }
                                },
                                None => {
                                    input type="text" name=(field) id=(field) value=(value(&field)) required[*required];
                                    span class="muted" { "Your token lacks secrets:read: a provider that uses secrets needs it." }
                                },
                            }
                        }
                    } @else {
                        label { (key) @if *required { " *" }
                            input type="text" name=(field) id=(field) value=(value(&field)) required[*required];
                        }
                    }
                }
            }
            div { button type="submit" { "Create provider" } }
        }
    })
}

fn body(values: &[(String, String)]) -> CreateDnsProvider {
    let get = |name: &str| {
        values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let config: BTreeMap<String, String> = values
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(CONFIG_PREFIX)?;
            (!v.trim().is_empty()).then(|| (key.to_owned(), v.trim().to_owned()))
        })
        .collect();
    let zones: Vec<String> = get("zones")
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|z| !z.is_empty())
        .map(str::to_owned)
        .collect();
    CreateDnsProvider {
        name: get("name"),
        kind: get("type"),
        config,
        zones: (!zones.is_empty()).then_some(zones),
        default: Some(get("default") == "yes"),
    }
}

/// `POST /dns-providers`.
pub async fn create(
    State(state): State<AdminState>,
    ctx: Ctx,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    let request = body(&values);
    let kind = request.kind.clone();
    let created =
        async { api::create(State(state.app.clone()), ctx.grant()?, ApiJson(request)).await }.await;
    match created {
        Ok((_, provider)) => {
            Redirect::to(&format!("/dns-providers/{}", provider.0.id)).into_response()
        }
        Err(err) => {
            let result = async {
                Ok(page::with_status(
                    err.status,
                    &ctx,
                    Section::DnsProviders,
                    "Add a DNS provider",
                    create_form(&state, &ctx, &kind, &values, Some(&err)).await?,
                ))
            }
            .await;
            page::show(&ctx, Section::DnsProviders, "Add a DNS provider", result)
        }
    }
}

/// `GET /dns-providers/{id}`.
pub async fn detail(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = async {
        let provider = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        Ok(page::ok(
            &ctx,
            Section::DnsProviders,
            &provider.name,
            render(&ctx, &provider, None),
        ))
    }
    .await;
    page::show(&ctx, Section::DnsProviders, "DNS provider", result)
}

fn render(ctx: &Ctx, p: &DnsProvider, outcome: Option<Markup>) -> Markup {
    html! {
        section class="card" {
            dl class="facts" id="facts" {
                dt { "Id" } dd { code { (p.id) } }
                dt { "Type" } dd { (p.kind) }
                dt { "Zones" } dd { (p.zones.join(", ")) @if p.default { " (default)" } }
                @for (key, value) in &p.config {
                    dt { (key) } dd { code { (value) } @if key.ends_with("_path") { " " span class="muted" { "(secret path)" } } }
                }
            }
        }
        section class="card" aria-labelledby="test-h" {
            h2 id="test-h" { "Test" }
            p { "Writes a probe TXT record at " code { "_acme-challenge.<name>" } ", waits until the configured resolvers see it, and removes it." }
            @if let Some(outcome) = outcome { (outcome) }
            form id="test" class="inline" method="post" action={ "/dns-providers/" (p.id) "/test" } {
                (ctx.csrf_field())
                label { "Name in one of its zones" input type="text" name="domain" id="test-domain" required placeholder="example.com"; }
                button type="submit" { "Run test" }
            }
        }
        section class="card" aria-labelledby="delete-h" {
            h2 id="delete-h" { "Delete" }
            form id="delete" class="stack" method="post" action={ "/dns-providers/" (p.id) "/delete" } {
                (ctx.csrf_field())
                label class="check" { input type="checkbox" name="confirm" value="yes" required; "Yes, delete this provider" }
                div { button type="submit" class="danger" { "Delete provider" } }
            }
        }
    }
}

/// The test form.
#[derive(Debug, Deserialize)]
pub struct TestForm {
    #[serde(default)]
    domain: String,
}

/// `POST /dns-providers/{id}/test`: the provider's page with the probe's outcome.
pub async fn test(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> Response {
    let result = async {
        let provider = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        let probe = api::test(
            State(state.app.clone()),
            ctx.grant()?,
            ApiPath(id.clone()),
            ApiJson(TestDnsProvider {
                domain: form.domain.trim().to_owned(),
            }),
        )
        .await;
        let (status, outcome) = match probe {
            Ok(result) => {
                let r = result.0;
                (
                    StatusCode::OK,
                    html! {
                        div class="notice" id="probe-result" role="status" {
                            "Probe record " code { (r.fqdn) } " was visible after "
                            strong id="propagation-ms" { (r.propagation_ms) " ms" } "; "
                            @if r.removed { "it has been removed." } @else {
                                "removing it failed (" (r.removal_error.as_deref().unwrap_or("no reason given"))
                                "): delete " code { (r.fqdn) } " by hand."
                            }
                        }
                    },
                )
            }
            Err(err) => (err.status, page::problem(&err)),
        };
        Ok(page::with_status(
            status,
            &ctx,
            Section::DnsProviders,
            &provider.name,
            render(&ctx, &provider, Some(outcome)),
        ))
    }
    .await;
    page::show(&ctx, Section::DnsProviders, "DNS provider", result)
}

/// `POST /dns-providers/{id}/delete`.
pub async fn delete(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<Confirm>,
) -> Response {
    let result = async {
        if !form.given() {
            return Err(ApiError::invalid(
                "confirm",
                "confirm the deletion: tick the box",
            ));
        }
        api::delete(State(state.app.clone()), ctx.grant()?, ApiPath(id)).await?;
        Ok(Redirect::to("/dns-providers").into_response())
    }
    .await;
    page::show(&ctx, Section::DnsProviders, "DNS provider", result)
}
