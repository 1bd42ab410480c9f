//! The axum edge: routes, request ids, tracing spans, the body limit, and JSON answers for
//! unknown routes and methods.

pub mod accounts;
pub mod auth;
pub mod caa;
pub mod certificates;
pub mod dns_providers;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod order_rate;
pub mod orders;
pub mod pagination;
pub mod principal;
pub mod request_id;
pub mod revoke;
pub mod secrets;
pub mod token_cache;
pub mod tokens;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use scaivault_contract::ErrorCode;

use self::error::ApiError;
use crate::state::AppState;

/// Every route with its OpenAPI operation, without state: the router and the document
/// ([`openapi::document`]) are both read from this one table, each handler's path and method
/// from its `#[utoipa::path]` annotation.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::render))
        .routes(routes!(openapi::serve))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::delete))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::get, secrets::delete))
        .routes(routes!(accounts::providers))
        .routes(routes!(accounts::register, accounts::list))
        .routes(routes!(
            accounts::get,
            accounts::update,
            accounts::deactivate
        ))
        .routes(routes!(accounts::roll_over_key))
        .routes(routes!(accounts::clear_pauses))
        .routes(routes!(caa::caa))
        .routes(routes!(orders::issue))
        .routes(routes!(orders::list))
        .routes(routes!(orders::get))
        .routes(routes!(certificates::list))
        .routes(routes!(certificates::get))
        .routes(routes!(certificates::pem))
        .routes(routes!(certificates::key))
        .routes(routes!(certificates::renew))
        .routes(routes!(revoke::revoke))
        .routes(routes!(dns_providers::create, dns_providers::list))
        .routes(routes!(dns_providers::get, dns_providers::delete))
        .routes(routes!(dns_providers::test))
        .routes(routes!(events::list))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(crate::challenges::http01::respond))
}

/// The whole API router.
pub fn router(state: AppState) -> Router {
    let (api, _) = routes().split_for_parts();
    let api = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .with_state(state);

    api.layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            tracing::info_span!(
                "request",
                request_id = %request_id::of(request),
                method = %request.method(),
                path = %request.uri().path(),
                token = tracing::field::Empty,
            )
        }),
    )
    .layer(PropagateRequestIdLayer::new(request_id::HEADER))
    .layer(axum::middleware::map_request(request_id::assign))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}
