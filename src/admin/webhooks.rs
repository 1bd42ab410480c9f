//! Webhooks: subscriptions (create, delete), each delivery with every attempt and the
//! receiver's answer, and redelivery.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};
use scaivault_contract::{CreateWebhook, PageQuery, Webhook};
use serde::Deserialize;

use super::AdminState;
use super::page::{self, Confirm, Ctx, Section, badge, when};
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::webhooks as api;

/// `GET /webhooks`.
pub async fn list(State(state): State<AdminState>, ctx: Ctx) -> Response {
    let result = async {
        Ok(page::ok(
            &ctx,
            Section::Webhooks,
            "Webhooks",
            render_list(&state, &ctx, &CreateForm::default(), None).await?,
        ))
    }
    .await;
    page::show(&ctx, Section::Webhooks, "Webhooks", result)
}

async fn render_list(
    state: &AdminState,
    ctx: &Ctx,
    values: &CreateForm,
    problem: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    let webhooks = api::list(
        State(state.app.clone()),
        ctx.grant()?,
        ApiQuery(PageQuery {
            limit: Some(100),
            cursor: None,
        }),
    )
    .await?
    .0
    .webhooks;
    Ok(html! {
        div class="table-wrap" {
            table id="webhooks" {
                thead { tr { th { "URL" } th { "Events" } th { "Created" } } }
                tbody {
                    @for w in &webhooks {
                        tr data-id=(w.id) {
                            td { a href={ "/webhooks/" (w.id) } { (w.url) } }
                            td { (w.events.join(", ")) }
                            td { (when(w.created_at)) }
                        }
                    }
                }
            }
        }
        h2 id="create-h" { "Subscribe" }
        @if let Some(err) = problem { (page::problem(err)) }
        form id="create-webhook" class="stack card" method="post" action="/webhooks" aria-labelledby="create-h" {
            (ctx.csrf_field())
            label { "Receiver URL" input type="url" name="url" id="url" value=(values.url) required; }
            label { "Event types (space separated, * for all)" input type="text" name="events" id="events" value=(if values.events.is_empty() { "*" } else { values.events.as_str() }) required; }
            p class="muted" { "A signing secret is generated and shown once." }
            div { button type="submit" { "Subscribe" } }
        }
    })
}

/// The subscription form.
#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: String,
}

/// `POST /webhooks`: the new subscription with its secret, shown this once.
pub async fn create(
    State(state): State<AdminState>,
    ctx: Ctx,
    Form(values): Form<CreateForm>,
) -> Response {
    let body = CreateWebhook {
        url: values.url.trim().to_owned(),
        events: values
            .events
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        secret: None,
    };
    let created =
        async { api::create(State(state.app.clone()), ctx.grant()?, ApiJson(body)).await }.await;
    let result = async {
        match created {
            Ok((_, created)) => {
                let created = created.0;
                let body = html! {
                    div class="notice" role="status" {
                        p { "Subscribed " code { (created.record.url) } "." }
                        p { "Signing secret (shown only now; the receiver verifies X-ScaiVault-Signature with it): " }
                        pre id="webhook-secret" { (created.secret) }
                        p { a href={ "/webhooks/" (created.record.id) } { "Go to the webhook" } }
                    }
                };
                Ok(page::with_status(StatusCode::CREATED, &ctx, Section::Webhooks, "Webhook created", body))
            }
            Err(err) => Ok(page::with_status(
                err.status,
                &ctx,
                Section::Webhooks,
                "Webhooks",
                render_list(&state, &ctx, &values, Some(&err)).await?,
            )),
        }
    }
    .await;
    page::show(&ctx, Section::Webhooks, "Webhooks", result)
}

/// `GET /webhooks/{id}?cursor=`.
#[derive(Debug, Default, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /webhooks/{id}`: the subscription and its deliveries, newest first.
pub async fn detail(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Response {
    let result = async {
        let webhook = api::get(State(state.app.clone()), ctx.grant()?, ApiPath(id.clone()))
            .await?
            .0;
        let page = api::deliveries(
            State(state.app.clone()),
            ctx.grant()?,
            ApiPath(id.clone()),
            ApiQuery(PageQuery {
                limit: Some(50),
                cursor: query.cursor,
            }),
        )
        .await?
        .0;
        let body = html! {
            (facts(&webhook))
            h2 { "Deliveries" }
            div class="table-wrap" {
                table id="deliveries" {
                    thead { tr { th { "Event" } th { "Status" } th { "Attempts" } th { "" } } }
                    tbody {
                        @for d in &page.deliveries {
                            tr data-id=(d.id) {
                                td { code { (d.event_type) } br; span class="muted" { (d.event_id) } br; (when(d.created_at))
                                     @if let Some(of) = &d.redelivery_of { br; span class="muted" { "redelivery of " (of) } } }
                                td { (badge(d.status.as_str()))
                                     @if let Some(at) = d.next_attempt_at { br; span class="muted" { "next attempt " (when(at)) } } }
                                td {
                                    ol class="attempts" {
                                        @for a in &d.attempt_log {
                                            li { (when(a.at)) ": "
                                                @match a.status_code { Some(code) => { "HTTP " (code) }, None => { "no answer" } }
                                                @if let Some(e) = &a.error { " — " (e) }
                                                " " span class="muted" { "(" (a.duration_ms) " ms)" } }
                                        }
                                    }
                                }
                                td {
                                    form class="redeliver" method="post" action={ "/webhooks/" (webhook.id) "/deliveries/" (d.id) "/redeliver" } {
                                        (ctx.csrf_field())
                                        button type="submit" { "Redeliver" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &page.next_cursor {
                p class="pager" { a href={ "/webhooks/" (webhook.id) "?cursor=" (next) } { "Older deliveries →" } }
            }
            section class="card" {
                h2 { "Delete" }
                form id="delete" class="stack" method="post" action={ "/webhooks/" (webhook.id) "/delete" } {
                    (ctx.csrf_field())
                    label class="check" { input type="checkbox" name="confirm" value="yes" required; "Yes, delete this subscription" }
                    div { button type="submit" class="danger" { "Delete webhook" } }
                }
            }
        };
        Ok(page::ok(&ctx, Section::Webhooks, "Webhook", body))
    }
    .await;
    page::show(&ctx, Section::Webhooks, "Webhook", result)
}

fn facts(w: &Webhook) -> Markup {
    html! {
        section class="card" {
            dl class="facts" {
                dt { "Id" } dd { code { (w.id) } }
                dt { "URL" } dd { code { (w.url) } }
                dt { "Events" } dd { (w.events.join(", ")) }
                dt { "Created" } dd { (when(w.created_at)) }
            }
        }
    }
}

/// `POST /webhooks/{id}/deliveries/{delivery_id}/redeliver`.
pub async fn redeliver(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let _redelivered = api::redeliver(
            State(state.app.clone()),
            ctx.grant()?,
            ApiPath((id.clone(), delivery_id)),
        )
        .await?;
        Ok(Redirect::to(&format!("/webhooks/{id}")).into_response())
    }
    .await;
    page::show(&ctx, Section::Webhooks, "Webhook", result)
}

/// `POST /webhooks/{id}/delete`.
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
        Ok(Redirect::to("/webhooks").into_response())
    }
    .await;
    page::show(&ctx, Section::Webhooks, "Webhooks", result)
}
