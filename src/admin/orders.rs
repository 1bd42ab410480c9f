//! Orders: the list, one order's status per name and challenge step kept live (server-sent
//! events) while it is in flight, an invalid order's error in full; and the issue form.

use std::convert::Infallible;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::{self, Stream};
use maud::{Markup, html};
use scaivault_contract::{
    ChallengeType, DnsRecord, Issue, KeyType, ListOrders, OrderDetail, OrderStatus, PageQuery,
};
use serde::Deserialize;

use super::AdminState;
use super::page::{self, Ctx, Section, badge, when};
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::orders as api;

/// How often a live view asks the store again; how long one stream lasts (the browser then
/// reconnects, after [`RECONNECT`]).
const LIVE_POLL: Duration = Duration::from_millis(500);
const LIVE_FOR: Duration = Duration::from_secs(60);
const RECONNECT: Duration = Duration::from_secs(1);

const STATUSES: [OrderStatus; 8] = [
    OrderStatus::Pending,
    OrderStatus::Ready,
    OrderStatus::Processing,
    OrderStatus::Valid,
    OrderStatus::Invalid,
    OrderStatus::Deactivated,
    OrderStatus::Revoked,
    OrderStatus::Expired,
];

/// The list's filter (`GET /orders?status=&cursor=`).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /orders`.
pub async fn list(
    State(state): State<AdminState>,
    ctx: Ctx,
    Query(filters): Query<Filters>,
) -> Response {
    let result = async {
        let status = STATUSES.into_iter().find(|s| s.as_str() == filters.status);
        let page = api::list(
            State(state.app.clone()),
            ctx.grant()?,
            ApiQuery(ListOrders {
                status,
                limit: Some(100),
                cursor: filters.cursor.clone(),
            }),
        )
        .await?
        .0;
        let body = html! {
            form class="inline card" method="get" action="/orders" {
                label { "Status"
                    select name="status" {
                        option value="" { "any" }
                        @for s in STATUSES { option value=(s.as_str()) selected[Some(s) == status] { (s.as_str()) } }
                    }
                }
                button type="submit" { "Filter" }
                " " a href="/issue" { "Issue a certificate…" }
            }
            div class="table-wrap" {
                table id="orders" {
                    thead { tr { th { "Order" } th { "Names" } th { "Challenge" } th { "Status" } th { "Created" } th { "Error" } } }
                    tbody {
                        @for o in &page.orders {
                            tr data-id=(o.order_id) {
                                td { a href={ "/orders/" (o.order_id) } { (o.order_id) } }
                                td { (o.domains.join(", ")) }
                                td { (o.challenge_type.as_str()) }
                                td { (badge(o.status.as_str())) }
                                td { (when(o.created_at)) }
                                td { @if let Some(e) = &o.error { code { (e.code) } ": " (e.message) } }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &page.next_cursor {
                p class="pager" { a href={ "/orders?status=" (filters.status) "&cursor=" (next) } { "Older orders →" } }
            }
        };
        Ok(page::ok(&ctx, Section::Orders, "Orders", body))
    }
    .await;
    page::show(&ctx, Section::Orders, "Orders", result)
}

async fn fetch(state: &AdminState, ctx: &Ctx, id: &str) -> Result<OrderDetail, ApiError> {
    Ok(api::get(
        State(state.app.clone()),
        ctx.grant()?,
        ApiPath(id.to_owned()),
    )
    .await?
    .0)
}

fn is_final(status: OrderStatus) -> bool {
    !matches!(
        status,
        OrderStatus::Pending | OrderStatus::Ready | OrderStatus::Processing
    )
}

/// `GET /orders/{id}`.
pub async fn detail(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = async {
        let detail = fetch(&state, &ctx, &id).await?;
        let o = &detail.order;
        let live = (!is_final(o.status)).then(|| format!("/orders/{id}/live"));
        let body = html! {
            section class="card" aria-labelledby="order-h" {
                h2 id="order-h" { "Order" }
                dl class="facts" {
                    dt { "Id" } dd { code { (o.order_id) } }
                    dt { "Names" } dd { @for d in &o.domains { code { (d) } " " } }
                    dt { "Account" } dd { a href={ "/accounts/" (o.account_id) } { (o.account_id) } }
                    dt { "Challenge" } dd { (o.challenge_type.as_str())
                        @if let Some(p) = &o.dns_provider_id { " via " a href={ "/dns-providers/" (p) } { (p) } } }
                    dt { "Key type" } dd { (o.key_type.as_str()) }
                    @if let Some(p) = &o.profile { dt { "Profile" } dd { (p) } }
                    dt { "Created" } dd { (when(o.created_at)) }
                    dt { "CA order" } dd { code { (o.ca_order_url) } }
                }
            }
            section class="card" aria-labelledby="progress-h" {
                h2 id="progress-h" { "Progress" }
                div id="order-live" data-live=[live] aria-live="polite" { (progress(&detail)) }
                noscript { p class="muted" { "Reload the page to see progress." } }
            }
        };
        Ok(page::ok(&ctx, Section::Orders, &format!("Order {id}"), body))
    }
    .await;
    page::show(&ctx, Section::Orders, "Order", result)
}

/// One name's steps, each done, failed or still ahead.
fn steps(detail: &OrderDetail, domain: &str, status: &str) -> Vec<(&'static str, Step)> {
    let order = &detail.order;
    let record: Option<&DnsRecord> = detail
        .dns_records
        .iter()
        .flatten()
        .find(|r| r.domain == domain);
    let answered = matches!(status, "processing" | "valid" | "invalid");
    let failed = status == "invalid";
    let mut steps = Vec::new();
    match order.challenge_type {
        ChallengeType::Dns01 => {
            steps.push(("TXT written", Step::done_if(record.is_some() || answered)));
            steps.push(("propagated", Step::done_if(answered)));
        }
        ChallengeType::Http01 | ChallengeType::TlsAlpn01 => {
            steps.push(("response served", Step::Done));
        }
    }
    steps.push((
        "CA validating",
        if answered { Step::Done } else { Step::Ahead },
    ));
    steps.push((
        "validated",
        if failed {
            Step::Failed
        } else {
            Step::done_if(status == "valid" || order.status == OrderStatus::Valid)
        },
    ));
    steps
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Done,
    Failed,
    Ahead,
}

impl Step {
    fn done_if(done: bool) -> Self {
        if done { Step::Done } else { Step::Ahead }
    }

    fn class(self) -> &'static str {
        match self {
            Step::Done => "done",
            Step::Failed => "failed",
            Step::Ahead => "ahead",
        }
    }
}

/// The live part of an order's page: its status, each name's steps, finalisation, the error.
fn progress(detail: &OrderDetail) -> Markup {
    let o = &detail.order;
    let finalised = match o.status {
        OrderStatus::Valid | OrderStatus::Revoked | OrderStatus::Expired => Step::Done,
        OrderStatus::Invalid => Step::Failed,
        _ => Step::Ahead,
    };
    html! {
        p { "Status: " span id="order-status" data-status=(o.status.as_str()) { (badge(o.status.as_str())) }
            " " span class="muted" { "updated " (when(o.updated_at)) } }
        div class="table-wrap" {
            table id="steps" {
                thead { tr { th { "Name" } th { "Challenge" } th { "Steps" } } }
                tbody {
                    @for c in &detail.challenges {
                        tr data-domain=(c.domain) {
                            td { code { (c.domain) } }
                            td { (badge(&c.status)) }
                            td {
                                ol class="steps" {
                                    @for (name, step) in steps(detail, &c.domain, &c.status) {
                                        li class=(step.class()) { (name) }
                                    }
                                }
                                @if let Some(e) = &c.error { p class="muted" { (e) } }
                            }
                        }
                    }
                }
            }
        }
        p { "Finalised: " span id="finalised" class={ "badge " (match finalised { Step::Done => "good", Step::Failed => "bad", Step::Ahead => "" }) } {
            (match finalised { Step::Done => "yes", Step::Failed => "no", Step::Ahead => "not yet" }) }
            @if let Some(cert) = &o.certificate_id {
                " · certificate " a id="certificate-link" href={ "/certificates/" (cert) } { (cert) }
            }
        }
        @if let Some(records) = &detail.dns_records {
            @if !records.is_empty() {
                details { summary { "TXT records" }
                    ul { @for r in records { li { code { (r.fqdn) } " — " (r.state)
                        @if let Some(e) = &r.last_error { " (" (e) ")" } } } }
                }
            }
        }
        @if let Some(e) = &o.error {
            div class="problem" id="order-error" role="alert" {
                p { strong { "The order failed: " } code { (e.code) } }
                pre { (e.message) }
            }
        }
    }
}

/// `GET /orders/{id}/live`: server-sent events, an `update` with the progress HTML whenever it
/// changes and a `done` once the order is final. A stream lasts [`LIVE_FOR`] at most (under the
/// listener's `request_timeout`): then it ends and the browser's `EventSource` reconnects, its
/// first event the state at that moment. The session is checked again on every poll: a deleted
/// token ends the stream with `done`.
pub async fn live(State(state): State<AdminState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let first = match fetch(&state, &ctx, &id).await {
        Ok(detail) => detail,
        Err(err) => return page::failed(&ctx, Section::Orders, "Order", err),
    };
    Sse::new(updates(state, ctx, first))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Where a live stream is.
enum Next {
    /// Send this state if it differs from the last one sent.
    Show(Box<OrderDetail>),
    /// Wait, then read the order again.
    Poll,
    /// Send `done` and end.
    Done,
    /// End without `done` (the browser reconnects).
    End,
}

struct Live {
    state: AdminState,
    ctx: Ctx,
    id: String,
    last: String,
    ends: tokio::time::Instant,
    next: Next,
}

fn updates(
    state: AdminState,
    ctx: Ctx,
    first: OrderDetail,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let live = Live {
        state,
        ctx,
        id: first.order.order_id.clone(),
        last: String::new(),
        ends: tokio::time::Instant::now() + LIVE_FOR,
        next: Next::Show(Box::new(first)),
    };
    stream::unfold(live, |mut live| async move {
        loop {
            match std::mem::replace(&mut live.next, Next::Poll) {
                Next::End => return None,
                Next::Done => {
                    live.next = Next::End;
                    return Some((Ok(SseEvent::default().event("done").data("")), live));
                }
                Next::Show(detail) => {
                    let html = progress(&detail).into_string();
                    if is_final(detail.order.status) {
                        live.next = Next::Done;
                    }
                    if html != live.last {
                        live.last.clone_from(&html);
                        let event = SseEvent::default()
                            .event("update")
                            .retry(RECONNECT)
                            .data(html);
                        return Some((Ok(event), live));
                    }
                }
                Next::Poll => {
                    if tokio::time::Instant::now() >= live.ends {
                        live.next = Next::End;
                        continue;
                    }
                    tokio::time::sleep(LIVE_POLL).await;
                    let principal = &live.ctx.principal.token_id;
                    if live.state.app.auth.recheck(principal).await.is_err() {
                        live.next = Next::Done;
                        continue;
                    }
                    // A read that fails (the store busy) is retried at the next poll.
                    if let Ok(detail) = fetch(&live.state, &live.ctx, &live.id).await {
                        live.next = Next::Show(Box::new(detail));
                    }
                }
            }
        }
    })
}

/// `GET /issue`: the form.
pub async fn issue_form(State(state): State<AdminState>, ctx: Ctx) -> Response {
    let result = async {
        Ok(page::ok(
            &ctx,
            Section::Issue,
            "Issue a certificate",
            form(&state, &ctx, &IssueForm::default(), None).await?,
        ))
    }
    .await;
    page::show(&ctx, Section::Issue, "Issue a certificate", result)
}

/// The issue form's fields.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    account_id: String,
    /// Names separated by spaces, commas or new lines.
    #[serde(default)]
    domains: String,
    #[serde(default)]
    challenge_type: String,
    #[serde(default)]
    dns_provider_id: String,
    #[serde(default)]
    key_type: String,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    auto_renew: Option<String>,
}

async fn form(
    state: &AdminState,
    ctx: &Ctx,
    values: &IssueForm,
    problem: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let accounts = crate::api::accounts::list(
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
    let providers = crate::api::dns_providers::list(
        State(state.app.clone()),
        ctx.grant()?,
        ApiQuery(PageQuery {
            limit: Some(100),
            cursor: None,
        }),
    )
    .await?
    .0
    .dns_providers;
    let challenge = if values.challenge_type.is_empty() {
        "http-01"
    } else {
        values.challenge_type.as_str()
    };
    Ok(html! {
        @if let Some(err) = problem { (page::problem(err)) }
        form id="issue" class="stack card" method="post" action="/issue" {
            (ctx.csrf_field())
            label { "ACME account"
                select name="account_id" id="account_id" required {
                    @for a in accounts.iter().filter(|a| a.status.as_str() == "active") {
                        option value=(a.id) selected[values.account_id == a.id] { (a.name) " (" (a.provider.as_str()) ", " (a.environment.as_str()) ")" }
                    }
                }
            }
            label { "Names or IP addresses (one per line; wildcards need dns-01, IP addresses http-01 or tls-alpn-01)"
                textarea name="domains" id="domains" rows="3" required { (values.domains) }
            }
            label { "Challenge"
                select name="challenge_type" id="challenge_type" {
                    @for c in [ChallengeType::Http01, ChallengeType::Dns01, ChallengeType::TlsAlpn01] {
                        option value=(c.as_str()) selected[challenge == c.as_str()] { (c.as_str()) }
                    }
                }
            }
            label { "DNS provider (dns-01; empty: chosen by zone)"
                select name="dns_provider_id" id="dns_provider_id" {
                    option value="" { "by zone" }
                    @for p in &providers {
                        option value=(p.id) selected[values.dns_provider_id == p.id] { (p.name) " (" (p.kind) ")" }
                    }
                }
            }
            label { "Key type"
                select name="key_type" id="key_type" {
                    @for k in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Rsa2048, KeyType::Rsa4096] {
                        option value=(k.as_str()) selected[values.key_type == k.as_str()] { (k.as_str()) }
                    }
                }
            }
            label { "Profile (optional)" input type="text" name="profile" id="profile" value=(values.profile); }
            label class="check" { input type="checkbox" name="auto_renew" value="yes" checked[values.auto_renew.is_some() || values.domains.is_empty()]; "Renew automatically" }
            div { button type="submit" { "Issue" } }
        }
    })
}

impl IssueForm {
    /// The API's request body. A value the form cannot express as the API's type is left for
    /// the API to refuse by name.
    fn body(&self) -> Result<Issue, ApiError> {
        let challenge_type =
            serde_json::from_value(serde_json::Value::String(self.challenge_type.clone()))
                .map_err(|_| {
                    ApiError::invalid(
                        "challenge_type",
                        "challenge_type: http-01, dns-01 or tls-alpn-01",
                    )
                })?;
        let key_type = if self.key_type.is_empty() {
            None
        } else {
            Some(
                serde_json::from_value(serde_json::Value::String(self.key_type.clone()))
                    .map_err(|_| ApiError::invalid("key_type", "key_type: not a key type"))?,
            )
        };
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        Ok(Issue {
            account_id: self.account_id.clone(),
            domains: self
                .domains
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            challenge_type,
            auto_renew: Some(self.auto_renew.is_some()),
            dns_provider_id: non_empty(&self.dns_provider_id),
            key_type,
            csr: None,
            profile: non_empty(&self.profile),
        })
    }
}

/// `POST /issue`: places the order through the API's handler, then shows it.
pub async fn issue(
    State(state): State<AdminState>,
    ctx: Ctx,
    Form(values): Form<IssueForm>,
) -> Response {
    let placed = async {
        api::issue(
            State(state.app.clone()),
            ctx.grant()?,
            ApiJson(values.body()?),
        )
        .await
    }
    .await;
    match placed {
        Ok((_, order)) => {
            Redirect::to(&format!("/orders/{}", order.0.order.order_id)).into_response()
        }
        Err(err) => {
            let result = async {
                Ok(page::with_status(
                    err.status,
                    &ctx,
                    Section::Issue,
                    "Issue a certificate",
                    form(&state, &ctx, &values, Some(&err)).await?,
                ))
            }
            .await;
            page::show(&ctx, Section::Issue, "Issue a certificate", result)
        }
    }
}
