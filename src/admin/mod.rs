//! The admin job dashboard on `[server] admin_listen`: apalis-board's UI (served from `/`) and its
//! API (`/api/v1`, whose `PUT /api/v1/queues/{queue}/tasks` pushes jobs) over the renewal queue.
//!
//! Everything except the login form is behind [`gate`]: a token with the `admin` scope as
//! `Authorization: Bearer`, or the session cookie the login form sets. Without either, API paths
//! get 401 and pages a redirect to `/login`.

mod gate;
mod login;
mod session;

use std::sync::Arc;

use apalis_board::axum::framework::{ApiBuilder, RegisterRoute};
use apalis_board::axum::ui::ServeUI;
use axum::Router;
use axum::routing::{get, post};
use scaivault_jobs::{Job, JobQueue, Renewals, ScanTask, Storage, WebhookDelivery};

use crate::api::auth::Authenticator;
use session::Sessions;

/// What the dashboard's handlers share.
#[derive(Clone)]
pub struct AdminState {
    auth: Arc<Authenticator>,
    sessions: Sessions,
    /// The listener serves TLS: the session cookie is `Secure` (never sent over plain HTTP).
    secure_cookies: bool,
}

/// The dashboard: the login form, the board's API over `queue` and its UI, all but the login
/// behind [`gate::require_admin`]; `secure_cookies` when the listener serves TLS.
pub fn router(
    renewals: &Renewals,
    scans: &JobQueue<ScanTask>,
    webhooks: &JobQueue<WebhookDelivery>,
    auth: Arc<Authenticator>,
    secure_cookies: bool,
) -> Router {
    let state = AdminState {
        auth,
        sessions: Sessions::default(),
        secure_cookies,
    };
    let api = ApiBuilder::new(Router::new());
    let api = register(api, renewals.queue());
    let api = register(api, scans);
    let api = register(api, webhooks);
    let api = api.build();
    Router::new()
        .route(login::PATH, get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .with_state(state.clone())
        .nest_service("/api/v1", api)
        .fallback_service(ServeUI::new())
        // Applied last, so it wraps the routes, the nested API and the UI fallback alike.
        .layer(axum::middleware::from_fn_with_state(
            state,
            gate::require_admin,
        ))
}

/// Adds one queue's storage to the board under its queue name.
fn register<T: Job>(api: ApiBuilder<Router>, queue: &JobQueue<T>) -> ApiBuilder<Router> {
    match queue.storage() {
        Storage::Sqlite(storage) => api.register(T::QUEUE, storage),
        Storage::Postgres(storage) => api.register(T::QUEUE, storage),
    }
}
