//! The supervisor of account actors.
//!
//! ractor's default supervisor stops itself when a child stops; this one outlives its children.
//! An account actor that stops or fails leaves ractor's registry with it and is restored from
//! the store (its sealed credentials) the next time work arrives for it, so a failure costs one
//! restore, never the account.

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

/// The supervisor actor; it has no messages and no state of its own.
#[derive(Debug)]
pub(crate) struct AccountSupervisor;

impl Actor for AccountSupervisor {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<()>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        event: SupervisionEvent,
        (): &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                tracing::debug!(account = ?cell.get_name(), ?reason, "account actor stopped");
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(account = ?cell.get_name(), error = %err,
                    "account actor failed; it is restored from the store on next use");
            }
            _ => {}
        }
        Ok(())
    }
}
