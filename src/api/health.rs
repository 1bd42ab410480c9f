//! Liveness and readiness probes (no authentication: load balancers call them).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use scaivault_contract::{Health, Readiness};

use crate::state::AppState;

#[utoipa::path(
    get, path = "/healthz", operation_id = "healthz", tag = "probes",
    responses((status = 200, description = "The process is up", body = Health)),
)]
/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

#[utoipa::path(
    get, path = "/readyz", operation_id = "readyz", tag = "probes",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database or the actors are down", body = Readiness),
    ),
)]
/// The database answers and the actor system runs; 503 otherwise, naming what is down.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = match state.store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let actors = if state.accounts.is_running() && state.orders.is_running() {
        "ok"
    } else {
        "stopped"
    };
    let ready = database == "ok" && actors == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "unavailable" }.to_owned(),
            checks: [
                ("database".to_owned(), database),
                ("actors".to_owned(), actors.to_owned()),
            ]
            .into(),
            backend: state.store.backend().to_string(),
            instance_id: state.orders.instance_id().to_string(),
        }),
    )
}
