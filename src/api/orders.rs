//! `POST /v1/pki/acme/issue` and `/v1/pki/acme/orders`: writes go to the order actors, reads
//! come from the store.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_actors::IssueRequest;
use scaivault_contract::{
    DnsRecord, ErrorBody, Issue, ListOrders, Order, OrderDetail, OrderList, OrderWithChallenges,
};
use scaivault_domain::order::{ChallengeType, OrderQuery};
use scaivault_domain::timestamp;

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{Cursor, Page};
use crate::state::AppState;

#[utoipa::path(
    post, path = "/v1/pki/acme/issue", operation_id = "issue", tag = "acme", security(("bearer" = ["pki:write"])),
    request_body = Issue,
    responses(
        (status = 202, description = "The order was placed; answer its challenges", body = OrderWithChallenges),
        (status = 400, description = "`invalid_request` (`details.field`), `caa_forbidden` (CAA records forbid this CA, account or challenge type for a name; `details.denials`; the CA was not asked) or `ca_rejected` (`details.ca_problem`)", body = ErrorBody),
        (status = 403, description = "`account_paused`: the CA paused issuance through the account for some of the names (`details.identifiers`, `details.unpause_url`, `details.since`); waiting does not lift it, the unpause link does", body = ErrorBody),
        (status = 404, description = "`not_found`: no such account or DNS provider", body = ErrorBody),
        (status = 409, description = "`conflict`: e.g. the account is deactivated", body = ErrorBody),
        (status = 429, description = "`rate_limited` (orders per minute per token) or `backend_rate_limited` (the CA's, or the local ledger's: `details.limit`, e.g. `failed_authorizations`); `Retry-After`", body = ErrorBody),
        (status = 502, description = "`backend_error`: the CA or the DNS provider failed", body = ErrorBody),
        (status = 503, description = "`unavailable` (`Retry-After`)", body = ErrorBody),
    ),
)]
/// Starts an order; 202 with the pending order and each challenge to answer.
pub async fn issue(
    State(state): State<AppState>,
    caller: Authorized<need::PkiWrite>,
    ApiJson(body): ApiJson<Issue>,
) -> ApiResult<(StatusCode, Json<OrderWithChallenges>)> {
    state.order_rate.admit(&caller.0.token_id)?;
    let (order, challenges) = state
        .orders
        .issue(IssueRequest {
            account_id: body.account_id,
            domains: body.domains,
            challenge_type: body.challenge_type.into(),
            auto_renew: body.auto_renew,
            dns_provider_id: body.dns_provider_id,
            key_type: body.key_type.map(Into::into),
            csr: body.csr,
            profile: body.profile,
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(OrderWithChallenges::new(&order, &challenges)),
    ))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/orders", operation_id = "list_orders", tag = "acme", security(("bearer" = ["pki:read"])),
    params(ListOrders),
    responses(
        (status = 200, description = "A page of orders, newest first", body = OrderList),
        (status = 400, description = "`invalid_request`: bad status, limit or cursor", body = ErrorBody),
    ),
)]
/// Orders, newest first, `limit` (default 50, at most 100) per page; `next_cursor` continues.
pub async fn list(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiQuery(query): ApiQuery<ListOrders>,
) -> ApiResult<Json<OrderList>> {
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let status = query.status.map(Into::into);
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
    Ok(Json(OrderList {
        orders: orders.iter().map(Order::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    get, path = "/v1/pki/acme/orders/{id}", operation_id = "get_order", tag = "acme", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Order id (`acme_order_...`)")),
    responses(
        (status = 200, description = "The order with its challenges", body = OrderDetail),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
/// One order with its challenges; an invalid order carries `error: {code, message}`.
pub async fn get(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OrderDetail>> {
    let (order, challenges) = state
        .store
        .get_order_with_challenges(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {id} not found")))?;
    // dns-01: where each TXT value went and whether its removal is done, failed or pending.
    let dns_records = match order.challenge_type {
        ChallengeType::Dns01 => Some(
            state
                .store
                .order_dns_records(&id)
                .await?
                .iter()
                .map(DnsRecord::from)
                .collect(),
        ),
        _ => None,
    };
    Ok(Json(OrderDetail::new(&order, &challenges, dns_records)))
}
