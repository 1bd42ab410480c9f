//! The PKI admin console on `[server] admin_listen`: certificates, orders, accounts, DNS
//! providers, webhooks and events as server-rendered pages (they work without JavaScript), and
//! the job board (apalis-board's UI and its `/api/v1`) beside them.
//!
//! Everything except the login form and the stylesheet is behind [`gate`]: a token with the
//! `admin` scope as `Authorization: Bearer`, or the session cookie the login form sets. Without
//! either, API paths get 401 and pages a redirect to `/login`. Every page and action then calls
//! the API's own handler with the caller's principal, so the API's scope checks, validation and
//! rate limits apply unchanged: the console holds no second copy of any rule.
//!
//! The job board's UI is compiled with root-absolute routes (`/queues/{queue}`, `/tasks/...`,
//! `/workers`) and API (`/api/v1`), so it keeps those paths; the console's "Jobs" entry
//! (`/jobs`) opens its renewal queue, and its own home link leads back to the console.

mod accounts;
mod assets;
mod certificates;
mod chart;
mod csrf;
mod dns_providers;
mod events;
mod gate;
mod health;
mod login;
mod orders;
mod overview;
mod page;
mod session;
mod webhooks;

use std::sync::Arc;

use apalis_board::axum::framework::{ApiBuilder, RegisterRoute};
use apalis_board::axum::ui::ServeUI;
use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use scaivault_domain::rate_limit::ProviderLimits;
use scaivault_jobs::{Job, JobQueue, Renewals, ScanTask, Storage, WebhookDelivery};

use crate::state::AppState;
use session::Sessions;

/// The console's entry to the job board.
const JOBS: &str = "/jobs";
/// The job board's page the console's "Jobs" entry opens (its home, `/`, is the console's).
const BOARD_HOME: &str = "/queues/renewals";

/// What the console's handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The API's state: the console calls the API's handlers with it.
    app: AppState,
    sessions: Sessions,
    /// The listener serves TLS: the session cookie is `Secure` (never sent over plain HTTP).
    secure_cookies: bool,
    /// `[rate_limits]`, to show each account's use of its CA's limits.
    limits: Arc<ProviderLimits>,
}

/// The job queues the board shows.
pub struct Queues<'a> {
    pub renewals: &'a Renewals,
    pub scans: &'a JobQueue<ScanTask>,
    pub webhooks: &'a JobQueue<WebhookDelivery>,
}

/// The console and the job board, all but the login form and the stylesheet behind
/// [`gate::require_admin`]; `secure_cookies` when the listener serves TLS.
pub fn router(
    app: AppState,
    queues: Queues<'_>,
    limits: ProviderLimits,
    secure_cookies: bool,
) -> Router {
    let state = AdminState {
        app,
        sessions: Sessions::default(),
        secure_cookies,
        limits: Arc::new(limits),
    };
    let board = ApiBuilder::new(Router::new());
    let board = register(board, queues.renewals.queue());
    let board = register(board, queues.scans);
    let board = register(board, queues.webhooks);
    let board = board.build();
    let console = Router::new()
        .route(login::PATH, get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route(assets::STYLESHEET, get(assets::stylesheet))
        .route(assets::SCRIPT, get(assets::script))
        .route("/", get(overview::index))
        .route("/certificates", get(certificates::list))
        .route("/certificates/{id}", get(certificates::detail))
        .route("/certificates/{id}/pem", get(certificates::pem))
        .route("/certificates/{id}/key", get(certificates::key))
        .route("/certificates/{id}/renew", post(certificates::renew))
        .route(
            "/certificates/{id}/revoke",
            get(certificates::confirm_revoke).post(certificates::revoke),
        )
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::detail))
        .route("/orders/{id}/live", get(orders::live))
        .route("/issue", get(orders::issue_form).post(orders::issue))
        .route("/accounts", get(accounts::list).post(accounts::register))
        .route("/accounts/{id}", get(accounts::detail))
        .route("/accounts/{id}/deactivate", post(accounts::deactivate))
        .route(
            "/dns-providers",
            get(dns_providers::list).post(dns_providers::create),
        )
        .route("/dns-providers/new", get(dns_providers::new))
        .route("/dns-providers/{id}", get(dns_providers::detail))
        .route("/dns-providers/{id}/test", post(dns_providers::test))
        .route("/dns-providers/{id}/delete", post(dns_providers::delete))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::detail))
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/events", get(events::list))
        .route(JOBS, get(|| async { Redirect::to(BOARD_HOME) }))
        .layer(axum::middleware::from_fn(assets::headers))
        .with_state(state.clone());
    console
        .nest_service("/api/v1", board)
        .fallback_service(ServeUI::new())
        // Applied last, so it wraps the console, the board's API and its UI alike.
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
