//! Liveness and readiness probes (no authentication: load balancers call them).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and the actor system runs; 503 otherwise, naming what is down.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match state.store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let actors = if state.accounts.is_running() {
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
        Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "checks": { "database": database, "actors": actors },
            "backend": state.store.backend(),
            "instance_id": state.orders.instance_id(),
        })),
    )
}
