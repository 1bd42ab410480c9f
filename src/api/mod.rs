//! The axum edge: routes, request ids, tracing spans, the body limit, and JSON answers for
//! unknown routes and methods.

pub mod accounts;
pub mod auth;
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
#[allow(
    dead_code,
    reason = "schema-only: describe the JSON the handlers assemble"
)]
pub mod schemas;
pub mod secrets;
pub mod token_cache;
pub mod tokens;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;

use self::error::ApiError;
use crate::state::AppState;

/// Every route, without state: the OpenAPI test reads the route table from it. A route added
/// here must be documented in [`openapi::ApiDoc`] (`openapi::tests` fails otherwise).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/v1/auth/tokens", post(tokens::create).get(tokens::list))
        .route(
            "/v1/auth/tokens/{id}",
            axum::routing::delete(tokens::delete),
        )
        .route(
            "/v1/secrets/{*path}",
            get(secrets::get).put(secrets::put).delete(secrets::delete),
        )
        .route("/v1/pki/acme/providers", get(accounts::providers))
        .route(
            "/v1/pki/acme/accounts",
            post(accounts::register).get(accounts::list),
        )
        .route(
            "/v1/pki/acme/accounts/{id}",
            get(accounts::get).delete(accounts::deactivate),
        )
        .route("/v1/pki/acme/issue", post(orders::issue))
        .route("/v1/pki/acme/orders", get(orders::list))
        .route("/v1/pki/acme/orders/{id}", get(orders::get))
        .route("/v1/pki/certificates", get(certificates::list))
        .route("/v1/pki/certificates/{id}", get(certificates::get))
        .route("/v1/pki/certificates/{id}/pem", get(certificates::pem))
        .route("/v1/pki/certificates/{id}/key", get(certificates::key))
        .route("/v1/pki/certificates/{id}/renew", post(certificates::renew))
        .route("/v1/pki/revoke", post(revoke::revoke))
        .route(
            "/v1/pki/dns-providers",
            post(dns_providers::create).get(dns_providers::list),
        )
        .route(
            "/v1/pki/dns-providers/{id}",
            get(dns_providers::get).delete(dns_providers::delete),
        )
        .route("/v1/events", get(events::list))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::get).delete(webhooks::delete),
        )
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            crate::challenges::http01::PATH,
            get(crate::challenges::http01::respond),
        )
        .route("/v1/openapi.json", get(openapi::document))
}

/// The whole API router.
pub fn router(state: AppState) -> Router {
    let api = routes()
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
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
