//! What every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use scaivault_actors::{Accounts, Orders};
use scaivault_domain::SharedStore;
use scaivault_domain::seal::MasterKey;

use crate::api::auth::Authenticator;

/// Cheap to clone: everything inside is shared.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: SharedStore,
    pub key: MasterKey,
    pub auth: Arc<Authenticator>,
    pub accounts: Accounts,
    pub orders: Orders,
    /// `[dns] allow_insecure_endpoints`, as DNS provider creation checks endpoints with it.
    pub dns_endpoints: scaivault_dns::EndpointPolicy,
    /// `[webhooks]` as webhook creation checks targets with it.
    pub webhooks: scaivault_jobs::WebhookSettings,
    /// Wakes the webhook dispatcher, as recording an event does, after a redelivery was
    /// written: it queues the new delivery at once instead of at its next sweep.
    pub webhook_dispatch: scaivault_actors::EventNotifier,
    /// The job queues' database (queue depths for `GET /metrics`).
    pub jobs: scaivault_jobs::JobDatabase,
    /// `[server] orders_per_minute`, per token.
    pub order_rate: Arc<crate::api::order_rate::OrderRate>,
    /// `[server] registrations_per_minute`, per token.
    pub registration_rate: Arc<crate::api::order_rate::OrderRate>,
}

/// The http-01 responder needs only the store, on the API listener as on its own listeners.
impl FromRef<AppState> for SharedStore {
    fn from_ref(state: &AppState) -> SharedStore {
        state.store.clone()
    }
}

/// The bearer-token extractors (`api::auth`) need only the authenticator.
impl FromRef<AppState> for Arc<Authenticator> {
    fn from_ref(state: &AppState) -> Arc<Authenticator> {
        state.auth.clone()
    }
}
