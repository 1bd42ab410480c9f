//! The supervisor of account actors.
//!
//! ractor's default supervisor stops itself when a child stops; this one outlives its children.
//! An account actor that stops or fails is dropped from the registry and restored from the store
//! (its sealed credentials) the next time work arrives for it, so a failure costs one restore,
//! never the account.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::Mutex;

use crate::account::AccountMsg;

/// Live account actors by account id.
pub type Registry = Arc<Mutex<HashMap<String, ActorRef<AccountMsg>>>>;

/// The supervisor actor; it has no messages of its own.
#[derive(Debug)]
pub struct AccountSupervisor;

impl Actor for AccountSupervisor {
    type Msg = ();
    type State = Registry;
    type Arguments = Registry;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        registry: Registry,
    ) -> Result<Registry, ActorProcessingErr> {
        Ok(registry)
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        event: SupervisionEvent,
        registry: &mut Registry,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => (cell, reason),
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(actor = ?cell.get_name(), error = %err,
                    "account actor failed; it is restored from the store on next use");
                (cell, None)
            }
            _ => return Ok(()),
        };
        if let Some(name) = cell.get_name() {
            let mut live = registry.lock().await;
            // Only forget the entry if it is this very actor (a replacement may exist already).
            if live.get(&name).is_some_and(|r| r.get_id() == cell.get_id()) {
                live.remove(&name);
            }
            tracing::debug!(account = %name, reason = ?failure, "account actor stopped");
        }
        Ok(())
    }
}
