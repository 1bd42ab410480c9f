//! The event log, filterable; and the events about one certificate (its renewal history) and
//! the recent failures the overview shows. Read through the API's `GET /v1/events` handler.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use scaivault_contract::{CertificateDetail, Event, EventKind, ListEvents};
use scaivault_domain::timestamp;
use serde::Deserialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::AdminState;
use super::page::{self, Ctx, Section, when};
use crate::api::error::ApiError;
use crate::api::events as api;
use crate::api::extract::ApiQuery;

/// The most events one console page reads (100 per API page).
const MAX_PAGES: usize = 20;

const KINDS: [EventKind; 6] = [
    EventKind::CertificateIssued,
    EventKind::CertificateRenewed,
    EventKind::CertificateRenewalFailed,
    EventKind::CertificateExpiring,
    EventKind::CertificateRevoked,
    EventKind::OrderInvalid,
];

/// Events from `since` on, oldest first, of `kind` when given, up to [`MAX_PAGES`] pages; and
/// whether there were more.
pub async fn read(
    state: &AdminState,
    ctx: &Ctx,
    since: OffsetDateTime,
    kind: Option<EventKind>,
) -> Result<(Vec<Event>, bool), ApiError> {
    let mut events = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let page = api::list(
            State(state.app.clone()),
            ctx.grant()?,
            ApiQuery(ListEvents {
                kind,
                since: cursor.is_none().then(|| timestamp::rfc3339(since)),
                limit: Some(100),
                cursor,
            }),
        )
        .await?
        .0;
        events.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((events, false)),
        }
    }
    Ok((events, true))
}

/// Whether an event is about `certificate_id`.
fn concerns(event: &Event, certificate_id: &str) -> bool {
    event.data.get("certificate_id").and_then(Value::as_str) == Some(certificate_id)
}

/// A certificate's history since it was created, newest first: issuance, renewals, each
/// failed attempt with its reason, expiry warnings, revocation, invalid orders.
pub async fn about_certificate(
    state: &AdminState,
    ctx: &Ctx,
    detail: &CertificateDetail,
) -> Result<Vec<Event>, ApiError> {
    let since = detail.certificate.created_at - Duration::minutes(1);
    let (events, _) = read(state, ctx, since, None).await?;
    let mut history: Vec<Event> = events
        .into_iter()
        .filter(|e| concerns(e, &detail.certificate.id))
        .collect();
    history.reverse();
    Ok(history)
}

/// The last `count` failures (failed renewals, invalid orders) of the past 14 days, newest
/// first.
pub async fn recent_failures(
    state: &AdminState,
    ctx: &Ctx,
    count: usize,
) -> Result<Vec<Event>, ApiError> {
    let since = timestamp::now() - Duration::days(14);
    let mut failures = Vec::new();
    for kind in [EventKind::CertificateRenewalFailed, EventKind::OrderInvalid] {
        failures.extend(read(state, ctx, since, Some(kind)).await?.0);
    }
    failures.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    failures.truncate(count);
    Ok(failures)
}

/// What went wrong, in words, for a failure event (its reason or the order's error).
pub fn reason(event: &Event) -> String {
    if let Some(reason) = event.data.get("reason").and_then(Value::as_str) {
        return reason.to_owned();
    }
    match event.data.get("error") {
        Some(Value::Object(error)) => format!(
            "{}: {}",
            error.get("code").and_then(Value::as_str).unwrap_or("error"),
            error.get("message").and_then(Value::as_str).unwrap_or("")
        ),
        _ => String::new(),
    }
}

/// Events as a table: when, what, about which certificate or order, the reason of a failure,
/// and the whole data on demand.
pub fn table(id: &str, events: &[Event]) -> Markup {
    html! {
        @if events.is_empty() {
            p class="muted" id=(id) { "No events." }
        } @else {
            div class="table-wrap" {
                table id=(id) {
                    thead { tr { th { "When" } th { "Event" } th { "About" } th { "Reason / data" } } }
                    tbody {
                        @for e in events {
                            tr data-kind=(e.kind.as_str()) {
                                td { (when(e.created_at)) }
                                td { code { (e.kind.as_str()) } }
                                td { (about(e)) }
                                td {
                                    @let why = reason(e);
                                    @if !why.is_empty() { span class="reason" { (why) } }
                                    details { summary { "data" } pre { (serde_json::to_string_pretty(&e.data).unwrap_or_default()) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn about(event: &Event) -> Markup {
    let get = |key: &str| event.data.get(key).and_then(Value::as_str);
    html! {
        @if let Some(id) = get("certificate_id") { a href={ "/certificates/" (id) } { (id) } br; }
        @if let Some(id) = get("order_id") { a href={ "/orders/" (id) } { (id) } }
    }
}

/// The log's filters (`GET /events?type=&since=&q=`).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default, rename = "type")]
    kind: String,
    /// Hours back.
    #[serde(default)]
    hours: String,
    /// Text anywhere in the event's data (an id, a name).
    #[serde(default)]
    q: String,
}

/// `GET /events`.
pub async fn list(
    State(state): State<AdminState>,
    ctx: Ctx,
    Query(filters): Query<Filters>,
) -> Response {
    let result = async {
        let kind = KINDS.into_iter().find(|k| k.as_str() == filters.kind);
        let hours = filters.hours.parse::<i64>().unwrap_or(24).clamp(1, 24 * 90);
        let (mut events, more) =
            read(&state, &ctx, timestamp::now() - Duration::hours(hours), kind).await?;
        let q = filters.q.trim();
        if !q.is_empty() {
            events.retain(|e| e.data.to_string().contains(q));
        }
        events.reverse();
        let body = html! {
            form class="inline card" method="get" action="/events" role="search" {
                label { "Type"
                    select name="type" {
                        option value="" { "any" }
                        @for k in KINDS { option value=(k.as_str()) selected[Some(k) == kind] { (k.as_str()) } }
                    }
                }
                label { "Last"
                    select name="hours" {
                        @for (h, label) in [(1, "hour"), (24, "24 hours"), (168, "7 days"), (720, "30 days"), (2160, "90 days")] {
                            option value=(h) selected[h == hours] { (label) }
                        }
                    }
                }
                label { "Containing" input type="search" name="q" value=(filters.q) placeholder="cert_… or a name"; }
                button type="submit" { "Filter" }
            }
            p class="muted" { (events.len()) " events, newest first"
                @if more { " (the log holds more in this period: narrow the filter)" } }
            (table("events", &events))
        };
        Ok(page::ok(&ctx, Section::Events, "Events", body))
    }
    .await;
    page::show(&ctx, Section::Events, "Events", result)
}
