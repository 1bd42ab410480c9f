//! `GET /v1/events?type=&since=&limit=&cursor=`: the event log, oldest first, so a consumer
//! reads forwards from where it stopped (`next_cursor`, or `since` a time).

use axum::Json;
use axum::extract::State;
use scaivault_contract::{ErrorBody, Event, EventList, ListEvents};
use scaivault_domain::event::{EventKind, EventQuery};
use scaivault_domain::timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    get, path = "/v1/events", operation_id = "list_events", tag = "events", security(("bearer" = ["pki:read"])),
    params(ListEvents),
    responses(
        (status = 200, description = "A page of events, oldest first", body = EventList),
        (status = 400, description = "`invalid_request`: bad type, since, limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiQuery(query): ApiQuery<ListEvents>,
) -> ApiResult<Json<EventList>> {
    // The cursor is a position in the log; here it means "after", as the log is read forwards.
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let kind: Option<EventKind> = query.kind.map(Into::into);
    let after = match (page.before.clone(), &query.since) {
        (Some(cursor), _) => Some(cursor),
        (None, Some(since)) => {
            let at = OffsetDateTime::parse(since, &Rfc3339).map_err(|_| {
                ApiError::invalid("since", format!("since: {since:?} is not an RFC 3339 time"))
            })?;
            // Strictly after (at - 1 ms, any id): everything from `at` on.
            Some((timestamp::to_millis(at) - 1, String::from('\u{10FFFF}')))
        }
        (None, None) => None,
    };
    let events = state
        .store
        .list_events(&EventQuery {
            kind,
            after,
            limit: page.limit,
        })
        .await?;
    let next = page.next(
        events.last().map(|e| Cursor {
            created_at: timestamp::to_millis(e.created_at),
            id: e.id.clone(),
        }),
        events.len(),
    );
    Ok(Json(EventList {
        events: events.iter().map(Event::from).collect(),
        next_cursor: next,
    }))
}
