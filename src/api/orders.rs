//! `POST /v1/pki/acme/issue` and `/v1/pki/acme/orders`: writes go to the order actors, reads
//! come from the store.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_actors::IssueRequest;
use scaivault_domain::order::{OrderQuery, OrderStatus};
use scaivault_domain::timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    account_id: String,
    domains: Vec<String>,
    #[schema(value_type = scaivault_domain::order::ChallengeType)]
    challenge_type: String,
    auto_renew: Option<bool>,
    dns_provider_id: Option<String>,
    #[schema(value_type = Option<scaivault_domain::pki::key_type::KeyType>)]
    key_type: Option<String>,
    csr: Option<String>,
    profile: Option<String>,
}

#[utoipa::path(
    post, path = "/v1/pki/acme/issue", operation_id = "issue", tag = "acme", security(("bearer" = ["pki:write"])),
    request_body = Issue,
    responses(
        (status = 202, description = "The order was placed; answer its challenges", body = super::schemas::OrderWithChallenges),
        (status = 400, description = "`invalid_request` (`details.field`) or `ca_rejected` (`details.ca_problem`)", body = super::schemas::ErrorBody),
        (status = 404, description = "`not_found`: no such account or DNS provider", body = super::schemas::ErrorBody),
        (status = 409, description = "`conflict`: e.g. the account is deactivated", body = super::schemas::ErrorBody),
        (status = 429, description = "`rate_limited` (orders per minute per token) or `backend_rate_limited` (the CA's); `Retry-After`", body = super::schemas::ErrorBody),
        (status = 502, description = "`backend_error`: the CA or the DNS provider failed", body = super::schemas::ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = super::schemas::ErrorBody),
    ),
)]
/// Starts an order; 202 with the pending order and each challenge to answer.
pub async fn issue(
    State(state): State<AppState>,
    caller: Authorized<need::PkiWrite>,
    ApiJson(body): ApiJson<Issue>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    state.order_rate.admit(&caller.0.token_id)?;
    let (order, challenges) = state
        .orders
        .issue(IssueRequest {
            account_id: body.account_id,
            domains: body.domains,
            challenge_type: body.challenge_type,
            auto_renew: body.auto_renew,
            dns_provider_id: body.dns_provider_id,
            key_type: body.key_type,
            csr: body.csr,
            profile: body.profile,
        })
        .await?;
    let mut answer = json!(order);
    answer["challenges"] = json!(challenges);
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListOrders {
    #[param(value_type = Option<scaivault_domain::order::OrderStatus>)]
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/pki/acme/orders", operation_id = "list_orders", tag = "acme", security(("bearer" = ["pki:read"])),
    params(ListOrders),
    responses(
        (status = 200, description = "A page of orders, newest first", body = super::schemas::OrderList),
        (status = 400, description = "`invalid_request`: bad status, limit or cursor", body = super::schemas::ErrorBody),
    ),
)]
/// Orders, newest first, `limit` (default 50, at most 100) per page; `next_cursor` continues.
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiQuery(query): ApiQuery<ListOrders>,
) -> ApiResult<Json<Value>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<OrderStatus>)
        .transpose()?;
    let orders = state
        .store
        .list_orders(&OrderQuery {
            status,
            limit: page.limit,
            before: page.before.clone(),
        })
        .await?;
    let next = page.next(
        orders.last().map(|o| Cursor {
            created_at: timestamp::to_millis(o.created_at),
            id: o.id.clone(),
        }),
        orders.len(),
    );
    Ok(Json(json!({ "orders": orders, "next_cursor": next })))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/orders/{id}", operation_id = "get_order", tag = "acme", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Order id (`acme_order_...`)")),
    responses(
        (status = 200, description = "The order with its challenges", body = super::schemas::OrderDetail),
        (status = 404, description = "`not_found`", body = super::schemas::ErrorBody),
    ),
)]
/// One order with its challenges; an invalid order carries `error: {code, message}`.
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (order, challenges) = state
        .store
        .get_order_with_challenges(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {id} not found")))?;
    let mut answer = json!(order);
    answer["challenges"] = json!(challenges);
    if order.challenge_type == scaivault_domain::order::ChallengeType::Dns01 {
        // Where each TXT value went and whether its removal is done, failed or pending.
        answer["dns_records"] = json!(state.store.order_dns_records(&id).await?);
    }
    Ok(Json(answer))
}
