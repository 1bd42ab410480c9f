//! Certificates: search and filters, one certificate's versions and renewal history, renew now,
//! revoke (after a confirmation step), PEM downloads. Every read and action is the API's own
//! handler, called with the session's principal.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use maud::{Markup, html};
use scaivault_contract::{
    Account, Certificate, CertificateDetail, CertificateStatus, PageQuery, RevocationReason,
    RevokeBody,
};
use scaivault_domain::scope::Scope;
use scaivault_domain::timestamp;
use serde::Deserialize;
use time::Duration;

use super::AdminState;
use super::page::{self, Ctx, Section, badge, when};
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::{certificates as api, revoke as api_revoke};

/// The most certificates one console page reads (100 per API page).
const MAX_PAGES: usize = 50;

/// Every managed certificate the API lists, newest first, up to [`MAX_PAGES`] pages; and
/// whether there were more.
pub async fn all(state: &AdminState, ctx: &Ctx) -> Result<(Vec<Certificate>, bool), ApiError> {
    let mut certificates = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let page = api::list(
            State(state.app.clone()),
            ctx.grant()?,
            ApiQuery(PageQuery {
                limit: Some(100),
                cursor,
            }),
        )
        .await?
        .0;
        certificates.extend(page.certificates);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((certificates, false)),
        }
    }
    Ok((certificates, true))
}

/// The accounts by id (to name a certificate's issuer).
pub async fn accounts(state: &AdminState, ctx: &Ctx) -> Result<HashMap<String, Account>, ApiError> {
    let list = crate::api::accounts::list(
        State(state.app.clone()),
        ctx.grant()?,
        ApiQuery(PageQuery {
            limit: Some(100),
            cursor: None,
        }),
    )
    .await?
    .0;
    Ok(list
        .accounts
        .into_iter()
        .map(|account| (account.id.clone(), account))
        .collect())
}

/// The list's filters (`GET /certificates?q=&state=&issuer=&expires_within=`).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    /// Part of a name.
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    /// An account id: the CA account that issues it.
    #[serde(default)]
    issuer: String,
    /// Days.
    #[serde(default)]
    expires_within: String,
}

impl Filters {
    fn keeps(&self, certificate: &Certificate) -> bool {
        let q = self.q.trim().to_ascii_lowercase();
        let now = timestamp::now();
        (q.is_empty() || certificate.domains.iter().any(|d| d.contains(&q)))
            && (self.state.is_empty() || certificate.status.as_str() == self.state)
            && (self.issuer.is_empty() || certificate.account_id == self.issuer)
            && self.expires_within.parse::<i64>().map_or(true, |days| {
                certificate.not_after <= now + Duration::days(days)
            })
    }
}

/// `GET /certificates`.
pub async fn list(
    State(state): State<AdminState>,
    ctx: Ctx,
    Query(filters): Query<Filters>,
) -> Response {
    let result = async {
        let (certificates, more) = all(&state, &ctx).await?;
        let accounts = accounts(&state, &ctx).await?;
        let shown: Vec<&Certificate> = certificates.iter().filter(|c| filters.keeps(c)).collect();
        let body = html! {
            form class="inline card" method="get" action="/certificates" role="search" {
                label { "Name" input type="search" name="q" value=(filters.q) placeholder="example.com"; }
                label { "State"
                    select name="state" {
                        option value="" { "any" }
                        @for s in [CertificateStatus::Valid, CertificateStatus::Revoked, CertificateStatus::Expired] {
                            option value=(s.as_str()) selected[filters.state == s.as_str()] { (s.as_str()) }
                        }
                    }
                }
                label { "Issuer (CA account)"
                    select name="issuer" {
                        option value="" { "any" }
                        @for account in accounts.values() {
                            option value=(account.id) selected[filters.issuer == account.id] {
                                (account.name) " (" (account.provider.as_str()) ")"
                            }
                        }
                    }
                }
                label { "Expires within"
                    select name="expires_within" {
                        option value="" { "any time" }
                        @for days in ["7", "30", "90"] {
                            option value=(days) selected[filters.expires_within == days] { (days) " days" }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            p class="muted" { (shown.len()) " of " (certificates.len()) " certificates"
                @if more { " (the newest " (certificates.len()) " only)" } }
            div class="table-wrap" {
                table id="certificates" {
                    thead { tr { th { "Names" } th { "State" } th { "Issuer" } th { "Key" } th { "Expires" } th { "Renewal" } } }
                    tbody {
                        @for c in &shown {
                            tr data-id=(c.id) {
                                td { a href={ "/certificates/" (c.id) } { (c.domains.join(", ")) } }
                                td { (badge(c.status.as_str())) }
                                td { (issuer(&accounts, &c.account_id)) }
                                td { (c.key_type.as_str()) }
                                td { (when(c.not_after)) }
                                td { @if let Some(at) = c.renew_at { (when(at)) } @else { "—" }
                                     @if !c.auto_renew { " " span class="muted" { "(auto-renew off)" } } }
                            }
                        }
                    }
                }
            }
        };
        Ok(page::ok(&ctx, Section::Certificates, "Certificates", body))
    }
    .await;
    page::show(&ctx, Section::Certificates, "Certificates", result)
}

fn issuer(accounts: &HashMap<String, Account>, id: &str) -> Markup {
    match accounts.get(id) {
        Some(account) => {
            html! { a href={ "/accounts/" (id) } { (account.name) } " " span class="muted" { (account.provider.as_str()) } }
        }
        None => html! { (id) },
    }
}

/// `GET /certificates/{id}`.
pub async fn detail(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = async {
        let detail = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        let window = state.app.store.renewal_window(&id).await?;
        let history = super::events::about_certificate(&state, &ctx, &detail).await?;
        let accounts = accounts(&state, &ctx).await?;
        Ok(page::ok(
            &ctx,
            Section::Certificates,
            &detail.certificate.domains.join(", "),
            render(&ctx, &detail, window, &history, &accounts),
        ))
    }
    .await;
    page::show(&ctx, Section::Certificates, "Certificate", result)
}

fn render(
    ctx: &Ctx,
    detail: &CertificateDetail,
    window: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
    history: &[scaivault_contract::Event],
    accounts: &HashMap<String, Account>,
) -> Markup {
    let c = &detail.certificate;
    let current = detail
        .versions
        .iter()
        .find(|v| v.version == c.current_version);
    html! {
        section class="card" aria-labelledby="facts-h" {
            h2 id="facts-h" { "Certificate" }
            dl class="facts" id="facts" {
                dt { "Id" } dd { code { (c.id) } }
                dt { "State" } dd id="certificate-status" { (badge(c.status.as_str())) }
                dt { "Names (SANs)" } dd id="sans" { @for d in &c.domains { code { (d) } " " } }
                dt { "Issuer" } dd { @if let Some(v) = current { (v.issuer) " · " } (issuer(accounts, &c.account_id)) }
                dt { "Key type" } dd { (c.key_type.as_str()) @if c.own_csr { " (caller's CSR: no key held)" } }
                dt { "Challenge" } dd { (c.challenge_type.as_str()) @if let Some(p) = &c.dns_provider_id { " via " a href={ "/dns-providers/" (p) } { (p) } } }
                dt { "Serial" } dd { code { (c.serial_number) } }
                dt { "Expires" } dd { (when(c.not_after)) }
                dt { "Renewal at" } dd id="renew-at" {
                    @if let Some(at) = c.renew_at { (when(at)) } @else { "not scheduled" }
                    br;
                    span class="muted" id="renew-source" {
                        @match window {
                            Some((start, end)) => { "from the CA's ARI window (RFC 9773) " (timestamp::rfc3339(start)) " – " (timestamp::rfc3339(end)) }
                            None => { "by rule: the earlier of the configured window before expiry and the point where a third of the lifetime is left (half under ten days), with jitter" }
                        }
                    }
                }
                dt { "Auto-renew" } dd { (if c.auto_renew { "on" } else { "off" }) }
            }
        }
        section class="card" aria-labelledby="actions-h" {
            h2 id="actions-h" { "Actions" }
            div class="actions" {
                @if c.status == CertificateStatus::Valid {
                    form id="renew" method="post" action={ "/certificates/" (c.id) "/renew" } {
                        (ctx.csrf_field())
                        button type="submit" { "Renew now" }
                    }
                    a id="revoke-link" href={ "/certificates/" (c.id) "/revoke" } { "Revoke…" }
                }
                a id="pem" href={ "/certificates/" (c.id) "/pem" } download { "Download chain (PEM)" }
                @if ctx.may(Scope::PkiKeys) && !c.own_csr {
                    a id="key" href={ "/certificates/" (c.id) "/key" } download { "Download private key" }
                }
            }
        }
        section class="card" aria-labelledby="versions-h" {
            h2 id="versions-h" { "Versions" }
            div class="table-wrap" {
                table id="versions" {
                    thead { tr { th { "#" } th { "Serial" } th { "Issuer" } th { "Valid" } th { "State" } th { "Order" } } }
                    tbody {
                        @for v in &detail.versions {
                            tr {
                                td { (v.version) }
                                td { code { (v.serial_number) } }
                                td { (v.issuer) }
                                td { (timestamp::rfc3339(v.not_before)) " – " (timestamp::rfc3339(v.not_after)) }
                                td { (badge(v.status.as_str()))
                                     @if let Some(reason) = v.revocation_reason { " " span class="muted" { (reason.as_str()) } } }
                                td { a href={ "/orders/" (v.order_id) } { (v.order_id) } }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="history-h" {
            h2 id="history-h" { "Renewal history" }
            (super::events::table("history", history))
        }
    }
}

/// `POST /certificates/{id}/renew`: renews now, then shows the renewal order.
pub async fn renew(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = async {
        let (_, order) = api::renew(State(state.app.clone()), ctx.grant()?, ApiPath(id)).await?;
        Ok(Redirect::to(&format!("/orders/{}", order.0.order.order_id)).into_response())
    }
    .await;
    page::show(&ctx, Section::Certificates, "Renew", result)
}

/// `GET /certificates/{id}/revoke`: the confirmation step.
pub async fn confirm_revoke(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let detail = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        Ok(page::ok(
            &ctx,
            Section::Certificates,
            "Revoke certificate",
            revoke_form(&ctx, &detail, None),
        ))
    }
    .await;
    page::show(&ctx, Section::Certificates, "Revoke certificate", result)
}

fn revoke_form(ctx: &Ctx, detail: &CertificateDetail, problem: Option<&ApiError>) -> Markup {
    let c = &detail.certificate;
    html! {
        @if let Some(err) = problem { (page::problem(err)) }
        p { "Revoke " strong { (c.domains.join(", ")) } " (serial " code { (c.serial_number) } ")? "
            "Clients still using it will fail once the CA's revocation is published. This cannot be undone." }
        form id="revoke" class="stack card" method="post" action={ "/certificates/" (c.id) "/revoke" } {
            (ctx.csrf_field())
            label { "Reason"
                select name="reason" id="reason" {
                    @for reason in [RevocationReason::Unspecified, RevocationReason::KeyCompromise, RevocationReason::Superseded,
                                    RevocationReason::AffiliationChanged, RevocationReason::CessationOfOperation, RevocationReason::CaCompromise] {
                        option value=(reason.as_str()) { (reason.as_str()) }
                    }
                }
            }
            label class="check" { input type="checkbox" name="use_acme" value="yes" checked; "Tell the CA (RFC 8555 §7.6)" }
            label class="check" { input type="checkbox" name="confirm" value="yes" required; "Yes, revoke this certificate" }
            div { button type="submit" class="danger" { "Revoke certificate" } " " a href={ "/certificates/" (c.id) } { "Cancel" } }
        }
    }
}

/// The revocation form.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    reason: RevocationReason,
    #[serde(default)]
    use_acme: Option<String>,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /certificates/{id}/revoke`: revokes the current version once confirmed.
pub async fn revoke(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let result = async {
        let detail = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        if form.confirm.as_deref() != Some("yes") {
            let err = ApiError::invalid("confirm", "confirm the revocation: tick the box");
            return Ok(page::with_status(
                StatusCode::BAD_REQUEST,
                &ctx,
                Section::Certificates,
                "Revoke certificate",
                revoke_form(&ctx, &detail, Some(&err)),
            ));
        }
        let body = RevokeBody {
            serial_number: Some(detail.certificate.serial_number.clone()),
            reason: Some(form.reason),
            use_acme: Some(form.use_acme.as_deref() == Some("yes")),
        };
        match api_revoke::revoke(State(state.app.clone()), ctx.grant()?, ApiJson(body)).await {
            Ok(_) => Ok(Redirect::to(&format!("/certificates/{id}")).into_response()),
            Err(err) => Ok(page::with_status(
                err.status,
                &ctx,
                Section::Certificates,
                "Revoke certificate",
                revoke_form(&ctx, &detail, Some(&err)),
            )),
        }
    }
    .await;
    page::show(&ctx, Section::Certificates, "Revoke certificate", result)
}

/// `GET /certificates/{id}/pem`: the current chain as a download.
pub async fn pem(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result =
        async { api::pem(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone())).await }.await;
    download(&ctx, result, &format!("{id}.pem"))
}

/// `GET /certificates/{id}/key`: the current private key as a download (scope `pki:keys`, as
/// in the API).
pub async fn key(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result =
        async { api::key(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone())).await }.await;
    download(&ctx, result, &format!("{id}.key.pem"))
}

/// The API's PEM answer as a file download, or the failure as a page.
fn download(ctx: &Ctx, result: Result<Response, ApiError>, name: &str) -> Response {
    let result = result.map(|mut response| {
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
        response
    });
    page::show(ctx, Section::Certificates, "Download", result)
}
