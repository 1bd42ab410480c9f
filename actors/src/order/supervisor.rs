//! The supervisor of order actors.
//!
//! A failed order actor (an error or a panic) is restarted from the persisted state after a
//! growing delay, up to [`MAX_RESTARTS`] times per order (counted in the store, so a crash loop
//! of the whole process counts too); after that the order ends invalid with the last failure as
//! its reason, so nothing keeps failing silently. A restart may reuse the actor's name because
//! ractor frees it when the supervisor hears of the failure.
//!
//! An actor runs only while this instance holds the order's lease ([`super::leases`]): taken
//! before the actor starts, kept across restarts, handed back when the actor ends; a lease lost
//! to another instance kills the actor at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use scaivault_domain::order::{OrderError, OrderStatus};

use super::actor::{OrderActor, OrderMsg};
use super::context::Context;
use super::finish::finish;
use super::leases::Leases;

/// Restarts allowed per order before it is declared invalid.
const MAX_RESTARTS: i64 = 5;
/// The first restart delay; doubled for each further restart.
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// Messages of the order supervisor.
#[derive(Debug)]
pub(super) enum OrderSupervisorMsg {
    /// Drive this order if this instance holds or can take its lease (no-op if its actor is
    /// already running).
    Start(String),
    /// Another instance took this order's lease: stop driving it now.
    LeaseLost(String),
}

/// The supervisor actor.
#[derive(Debug)]
pub(super) struct OrderSupervisor {
    pub ctx: Arc<Context>,
}

/// The supervisor's state: its live actors by order id, and this instance's leases.
#[derive(Debug)]
pub(super) struct SupervisorState {
    live: HashMap<String, ActorRef<OrderMsg>>,
    leases: Arc<Leases>,
}

impl Actor for OrderSupervisor {
    type Msg = OrderSupervisorMsg;
    type State = SupervisorState;
    type Arguments = Arc<Leases>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        leases: Arc<Leases>,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            live: HashMap::new(),
            leases,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: OrderSupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let order_id = match message {
            OrderSupervisorMsg::Start(order_id) => order_id,
            OrderSupervisorMsg::LeaseLost(order_id) => {
                state.leases.forget(&order_id);
                if let Some(actor) = state.live.remove(&order_id) {
                    actor.kill();
                }
                return Ok(());
            }
        };
        let live = &mut state.live;
        if live.contains_key(&order_id) {
            return Ok(());
        }
        if !state.leases.acquire(&order_id).await {
            return Ok(());
        }
        let actor = OrderActor {
            ctx: self.ctx.clone(),
        };
        match Actor::spawn_linked(
            Some(order_id.clone()),
            actor,
            order_id.clone(),
            myself.get_cell(),
        )
        .await
        {
            Ok((actor, _)) => {
                live.insert(order_id, actor);
            }
            Err(err) => {
                tracing::error!(order = %order_id, error = %err, "cannot start order actor");
                state.leases.release(&order_id).await;
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let live = &mut state.live;
        match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(name) = cell.get_name() {
                    // The order is final (or its lease was lost: then this is a no-op). An actor
                    // already replaced under the same name keeps its lease.
                    if live.get(&name).is_some_and(|a| a.get_id() == cell.get_id()) {
                        live.remove(&name);
                        state.leases.release(&name).await;
                    }
                }
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(order_id) = cell.get_name() else {
                    return Ok(());
                };
                if live
                    .get(&order_id)
                    .is_none_or(|a| a.get_id() != cell.get_id())
                {
                    // Killed after its lease was lost, or already replaced.
                    return Ok(());
                }
                live.remove(&order_id);
                let restarts = self
                    .ctx
                    .store
                    .count_order_restart(&order_id)
                    .await
                    .unwrap_or(i64::MAX);
                if restarts <= MAX_RESTARTS {
                    let delay = FIRST_DELAY.saturating_mul(1 << (restarts - 1).clamp(0, 16));
                    tracing::warn!(order = %order_id, error = %err, restart = restarts,
                        delay_ms = delay.as_millis() as u64, "order actor failed; restarting from the store");
                    let id = order_id.clone();
                    myself.send_after(delay, move || OrderSupervisorMsg::Start(id));
                } else {
                    tracing::error!(order = %order_id, error = %err, "order actor failed too often; order is invalid");
                    let error = OrderError::new(
                        "order_failed",
                        format!(
                            "the order failed {MAX_RESTARTS} times in a row; last failure: {err}"
                        ),
                    );
                    if let Err(store_err) =
                        finish(&self.ctx, &order_id, OrderStatus::Invalid, Some(error)).await
                    {
                        tracing::error!(order = %order_id, error = %store_err, "cannot record the failed order");
                    }
                    state.leases.release(&order_id).await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
