//! `/v1/webhooks` (scope `admin`): subscriptions to event types, and each one's deliveries with
//! their attempts; a delivery can be redelivered (a new delivery of the same event).
//!
//! The URL must be http or https, and unless `[webhooks] allow_private_targets` its host must not
//! be or resolve to a loopback, private, link-local or otherwise non-public address (checked
//! here and again before every delivery; see `scaivault_jobs::webhook_target`). The secret that
//! signs deliveries is the caller's or a generated one, sealed at rest and shown once: in the
//! answer to the creation. Afterwards the webhook only says `secret_set: true`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{
    CreateWebhook, CreatedWebhook, Delivery, DeliveryList, ErrorBody, PageQuery, Webhook,
    WebhookList,
};
use scaivault_domain::webhook::{self, WebhookRecord, new_delivery_id};
use scaivault_domain::{ids, timestamp};
use scaivault_jobs::{TargetRefused, check_target, parse_url};
use serde_json::json;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

/// The longest URL accepted.
const URL_MAX: usize = 2048;

/// A refused URL as `invalid_request` naming the field and the reason's stable code.
fn refused_url(refused: &TargetRefused) -> ApiError {
    ApiError::invalid("url", format!("url: {refused}"))
        .with_details(json!({ "field": "url", "reason": refused.reason }))
}

#[utoipa::path(
    post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", security(("bearer" = ["admin"])),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Created; the secret is shown only here", body = CreatedWebhook),
        (status = 400, description = "`invalid_request`: bad url (`details.reason`), events or secret", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    if body.url.len() > URL_MAX {
        return Err(ApiError::invalid(
            "url",
            format!("url: at most {URL_MAX} characters"),
        ));
    }
    let url = parse_url(&body.url).map_err(|refused| refused_url(&refused))?;
    let events = webhook::validate_events(&body.events)?;
    let secret = match body.secret {
        Some(secret) => {
            webhook::validate_secret(&secret)?;
            secret
        }
        None => webhook::generate_secret(),
    };
    // Resolved now as at every delivery: a target refused later fails its deliveries instead.
    check_target(&url, state.webhooks.allow_private_targets)
        .await
        .map_err(|refused| refused_url(&refused))?;
    let record = WebhookRecord {
        id: ids::new_id(webhook::ID_PREFIX),
        url: url.to_string(),
        events,
        created_at: timestamp::now(),
    };
    let sealed = state
        .key
        .seal(&webhook::secret_aad(&record.id), secret.as_bytes())?;
    state.store.insert_webhook(&record, &sealed).await?;
    tracing::info!(webhook = %record.id, host = url.host_str().unwrap_or_default(),
        events = ?record.events, by = %principal.token_id, "created webhook");
    // The only time the secret leaves the service.
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            record: Webhook::from(&record),
            secret,
        }),
    ))
}

#[utoipa::path(
    get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks", security(("bearer" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of webhooks, newest first", body = WebhookList),
        (status = 400, description = "`invalid_request`: bad limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<WebhookList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let webhooks = state
        .store
        .list_webhooks(page.limit, page.before.clone())
        .await?;
    let next = page.next(
        webhooks.last().map(|w| Cursor {
            created_at: timestamp::to_millis(w.created_at),
            id: w.id.clone(),
        }),
        webhooks.len(),
    );
    Ok(Json(WebhookList {
        webhooks: webhooks.iter().map(Webhook::from).collect(),
        next_cursor: next,
    }))
}

async fn find(state: &AppState, id: &str) -> ApiResult<WebhookRecord> {
    state
        .store
        .get_webhook(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("webhook {id} not found")))
}

#[utoipa::path(
    get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Webhook id (`whk_...`)")),
    responses(
        (status = 200, description = "The webhook (never its secret)", body = Webhook),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(Webhook::from(&find(&state, &id).await?)))
}

#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Webhook id (`whk_...`)")),
    responses(
        (status = 204, description = "Deleted with its deliveries"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
/// Deletes the webhook with its deliveries; attempts still queued find them gone and end.
pub async fn delete(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_webhook(&id).await? {
        tracing::info!(webhook = %id, by = %principal.token_id, "deleted webhook");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("webhook {id} not found")))
    }
}

#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Webhook id (`whk_...`)"), PageQuery),
    responses(
        (status = 200, description = "A page of deliveries, newest first, each with its attempts", body = DeliveryList),
        (status = 400, description = "`invalid_request`: bad limit or cursor", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
/// The webhook's deliveries, newest first, each with its attempts.
pub async fn deliveries(
    State(state): State<AppState>,
    _: Authorized<need::Admin>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    find(&state, &id).await?;
    let deliveries = state
        .store
        .list_webhook_deliveries(&id, page.limit, page.before.clone())
        .await?;
    let next = page.next(
        deliveries.last().map(|d| Cursor {
            created_at: timestamp::to_millis(d.created_at),
            id: d.id.clone(),
        }),
        deliveries.len(),
    );
    Ok(Json(DeliveryList {
        deliveries: deliveries.iter().map(Delivery::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliver_webhook_delivery", tag = "webhooks", security(("bearer" = ["admin"])),
    params(
        ("id" = String, Path, description = "Webhook id (`whk_...`)"),
        ("delivery_id" = String, Path, description = "One of its deliveries (`whd_...`), in any status"),
    ),
    responses(
        (status = 202, description = "Queued: a new delivery (new id, no attempts) of the same event, with `redelivery_of` naming the one repeated", body = Delivery),
        (status = 404, description = "`not_found`: no such webhook, or no such delivery of it", body = ErrorBody),
    ),
)]
/// Delivers a delivery's event to its webhook again: a new delivery of the same bytes, with its
/// own id (receivers dedupe on `X-ScaiVault-Delivery`, so it is not dropped as a repeat) and
/// its own attempts and backoff, queued exactly as an event's own deliveries are. The delivery
/// repeated is left as it was.
pub async fn redeliver(
    State(state): State<AppState>,
    principal: Authorized<need::Admin>,
    ApiPath((id, delivery_id)): ApiPath<(String, String)>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    find(&state, &id).await?;
    let delivery = state
        .store
        .redeliver(&id, &delivery_id, &new_delivery_id(), timestamp::now())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("delivery {delivery_id} of webhook {id} not found"))
        })?;
    // The row is the durable part; this only saves the dispatcher's sweep interval.
    state.webhook_dispatch.notify();
    tracing::info!(webhook = %id, delivery = %delivery.id, redelivery_of = %delivery_id,
        event = %delivery.event_id, by = %principal.token_id, "webhook redelivery queued");
    Ok((StatusCode::ACCEPTED, Json(Delivery::from(&delivery))))
}
