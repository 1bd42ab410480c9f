//! What every handler shares.

use std::sync::Arc;

use scaivault_actors::Accounts;
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
}
