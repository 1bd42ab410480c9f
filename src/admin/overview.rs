//! The overview: counts by state, the expiry timeline, overdue renewals, the last failures with
//! their reasons, and how each CA account and DNS provider is doing.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use maud::html;
use scaivault_contract::{CertificateStatus, PageQuery};
use scaivault_domain::timestamp;
use time::Duration;

use super::AdminState;
use super::page::{self, Ctx, Section, when};
use super::{certificates, chart, events, health};
use crate::api::extract::ApiQuery;

/// `GET /`.
pub async fn index(State(state): State<AdminState>, ctx: Ctx) -> Response {
    let result = async {
        let now = timestamp::now();
        let (certs, more) = certificates::all(&state, &ctx).await?;
        let valid: Vec<_> = certs
            .iter()
            .filter(|c| c.status == CertificateStatus::Valid)
            .collect();
        let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &certs {
            *by_state.entry(c.status.as_str()).or_default() += 1;
        }
        let expiring_30 = valid
            .iter()
            .filter(|c| c.not_after <= now + Duration::days(30))
            .count();
        let mut overdue: Vec<_> = valid
            .iter()
            .filter(|c| c.auto_renew && c.renew_at.is_some_and(|at| at < now))
            .collect();
        overdue.sort_by_key(|c| c.renew_at);
        let weeks = chart::weekly(
            now,
            &valid.iter().map(|c| c.not_after).collect::<Vec<_>>(),
            &valid.iter().filter_map(|c| c.renew_at).collect::<Vec<_>>(),
        );
        let orders = state.app.store.order_counts_by_status().await?;
        let failures = events::recent_failures(&state, &ctx, 10).await?;
        let failed_orders = health::failed_orders(&state).await?;
        let accounts = crate::api::accounts::list(
            axum::extract::State(state.app.clone()),
            ctx.grant()?,
            ApiQuery(PageQuery {
                limit: Some(100),
                cursor: None,
            }),
        )
        .await?
        .0
        .accounts;
        let mut account_health = Vec::new();
        for account in accounts.iter().filter(|a| a.status.as_str() == "active") {
            account_health.push((
                account,
                health::of_account_with(&state, account, &failed_orders).await?,
            ));
        }
        let providers = crate::api::dns_providers::list(
            axum::extract::State(state.app.clone()),
            ctx.grant()?,
            ApiQuery(PageQuery {
                limit: Some(100),
                cursor: None,
            }),
        )
        .await?
        .0
        .dns_providers;
        let body = html! {
            section aria-labelledby="counts-h" {
                h2 id="counts-h" { "Certificates and orders" }
                ul class="counts" id="counts" {
                    li data-count="certificates" { b { (certs.len()) } "certificates" @if more { "+" } }
                    @for (state, count) in &by_state { li data-count={ "certificates-" (state) } { b { (count) } (state) } }
                    li data-count="expiring-30d" { b { (expiring_30) } "expire within 30 days" }
                    li data-count="overdue" { b { (overdue.len()) } "renewals overdue" }
                    @for (status, count) in &orders { li data-count={ "orders-" (status) } { b { (count) } "orders " (status) } }
                }
            }
            section class="card" aria-labelledby="timeline-h" {
                h2 id="timeline-h" { "Expiry timeline, next 90 days" }
                (chart::timeline(now, &weeks))
            }
            div class="grid" {
                section class="card" aria-labelledby="overdue-h" {
                    h2 id="overdue-h" { "Overdue renewals" }
                    @if overdue.is_empty() { p class="muted" id="overdue" { "None: every renewal is on schedule." } }
                    @else {
                        ul id="overdue" {
                            @for c in &overdue {
                                li { a href={ "/certificates/" (c.id) } { (c.domains.join(", ")) } " — due "
                                     @if let Some(at) = c.renew_at { (when(at)) } ", expires " (when(c.not_after)) }
                            }
                        }
                    }
                }
                section class="card" aria-labelledby="failures-h" {
                    h2 id="failures-h" { "Last failures (14 days)" }
                    @if failures.is_empty() { p class="muted" id="failures" { "No failures." } }
                    @else {
                        ul id="failures" {
                            @for e in &failures {
                                li { (when(e.created_at)) " " code { (e.kind.as_str()) } " "
                                     @if let Some(id) = e.data.get("certificate_id").and_then(|v| v.as_str()) { a href={ "/certificates/" (id) } { (id) } " " }
                                     @if let Some(id) = e.data.get("order_id").and_then(|v| v.as_str()) { a href={ "/orders/" (id) } { (id) } " " }
                                     br; span class="reason" { (events::reason(e)) } }
                            }
                        }
                    }
                }
            }
            section class="card" aria-labelledby="health-h" id="health" {
                h2 id="health-h" { "CA accounts" }
                @if account_health.is_empty() { p class="muted" { "No active ACME account. " a href="/accounts" { "Register one" } } }
                @for (account, h) in &account_health {
                    h3 { a href={ "/accounts/" (account.id) } { (account.name) } " " span class="muted" { (account.provider.as_str()) " " (account.environment.as_str()) } }
                    (health::limits_table(h))
                    p { "Last failure: " @match &h.last_error { Some(e) => { (e) }, None => { span class="muted" { "none recently" } } } }
                }
                h2 { "DNS providers" }
                @if providers.is_empty() { p class="muted" { "No DNS provider. " a href="/dns-providers" { "Add one" } } }
                @else {
                    ul id="dns-health" {
                        @for p in &providers {
                            li { a href={ "/dns-providers/" (p.id) } { (p.name) } " (" (p.kind) "): "
                                @match failed_orders.iter().find(|o| o.dns_provider_id.as_deref() == Some(p.id.as_str())) {
                                    Some(order) => { "last failure " (health::failure(order)) },
                                    None => { span class="muted" { "no recent failure" } },
                                } }
                        }
                    }
                }
            }
        };
        Ok(page::ok(&ctx, Section::Overview, "Overview", body))
    }
    .await;
    page::show(&ctx, Section::Overview, "Overview", result)
}
