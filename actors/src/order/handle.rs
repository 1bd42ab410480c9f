//! The handle through which the service starts and stops order actors.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::{Actor, ActorRef};
use scaivault_domain::order::{OrderProgress, OrderStatus};
use scaivault_domain::timestamp;

use super::config::OrdersConfig;
use super::context::Context;
use super::dns01::DnsSupport;
use super::finish::deactivated_error;
use super::leases::Leases;
use super::supervisor::{OrderSupervisor, OrderSupervisorMsg};
use crate::Error;

/// The order actors, their supervisor, and this instance's order leases.
#[derive(Clone, Debug)]
pub struct Orders {
    pub(super) ctx: Arc<Context>,
    supervisor: ActorRef<OrderSupervisorMsg>,
    leases: Arc<Leases>,
    /// The dns-01 sweeper, the lease keeper and the takeover pass, once started.
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Orders {
    /// Starts the order supervisor and the dns-01 sweeper. No order is driven before
    /// [`Orders::resume_unfinished`] (or a new one is issued).
    pub async fn start(config: OrdersConfig) -> Result<Self, Error> {
        let dns = Arc::new(DnsSupport::new(
            &config.store,
            config.key.clone(),
            &config.dns,
        )?);
        let leases = Arc::new(Leases::new(config.store.clone(), config.cluster.clone()));
        let ctx = Arc::new(Context::new(config, dns.clone()));
        let (supervisor, _) =
            Actor::spawn(None, OrderSupervisor { ctx: ctx.clone() }, leases.clone())
                .await
                .map_err(|err| Error::Unavailable(format!("order supervisor: {err}")))?;
        let sweeper = tokio::spawn(dns.sweep_forever());
        Ok(Self {
            ctx,
            supervisor,
            leases,
            tasks: Arc::new(Mutex::new(vec![sweeper])),
        })
    }

    /// What the orders share (the store, the accounts, the events), for the renewal service.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// This process's instance id (`inst_...`).
    pub fn instance_id(&self) -> &str {
        self.leases.instance_id()
    }

    /// Resumes every unfinished order nobody drives (no lease, or an expired one: its instance
    /// stopped or died), then keeps this instance's leases renewed and takes over such orders
    /// every `lease / 2`. On SQLite, which one instance uses, leases of earlier processes are
    /// dropped first, so a restart after a crash resumes at once.
    pub async fn resume_unfinished(&self) -> Result<usize, Error> {
        let store = &self.ctx.store;
        if store.backend() == "sqlite" {
            store
                .clear_foreign_order_leases(self.leases.instance_id())
                .await?;
        }
        let ids = store
            .claimable_orders(timestamp::now(), u32::MAX >> 1)
            .await?;
        for id in &ids {
            self.drive(id);
        }
        let (lost, claim) = (self.supervisor.clone(), self.supervisor.clone());
        let loops = self.leases.spawn_loops(
            move |order_id| {
                let _ = lost.cast(OrderSupervisorMsg::LeaseLost(order_id));
            },
            move |order_id| {
                let _ = claim.cast(OrderSupervisorMsg::Start(order_id));
            },
        );
        self.tasks().extend(loops);
        Ok(ids.len())
    }

    /// Ends the unfinished orders of a deactivated account as `deactivated`, saying why; their
    /// actors stop at their next step (the CA refuses the account's requests meanwhile, and an
    /// order ending that way is `deactivated` too). Returns how many ended here.
    pub async fn account_deactivated(&self, account_id: &str) -> Result<u64, Error> {
        let ended = self
            .ctx
            .store
            .end_orders_of_account(
                account_id,
                &OrderProgress {
                    status: OrderStatus::Deactivated,
                    error: Some(deactivated_error(account_id, None)),
                    at: timestamp::now(),
                },
            )
            .await?;
        if ended > 0 {
            tracing::info!(account = %account_id, ended, "orders of a deactivated account ended");
        }
        Ok(ended)
    }

    /// Graceful shutdown: stops driving orders (their actors are killed; every step is already
    /// persisted) and hands every lease back at once, so other instances take the orders over
    /// without waiting for the leases to expire. Returns how many leases were handed back.
    pub async fn stop(&self) -> u64 {
        self.stop_tasks();
        for child in self.supervisor.get_children() {
            let _ = child.kill_and_wait(Some(Duration::from_secs(5))).await;
        }
        let released = self.leases.release_all().await;
        self.shutdown();
        released
    }

    /// Whether the supervisor runs (for readiness).
    pub fn is_running(&self) -> bool {
        matches!(
            self.supervisor.get_status(),
            ractor::ActorStatus::Running | ractor::ActorStatus::Upgrading
        )
    }

    /// Stops the order actors; their orders resume from the store at the next start.
    pub fn shutdown(&self) {
        self.stop_tasks();
        self.supervisor.stop_children(Some("shutdown".into()));
        self.supervisor.stop(Some("shutdown".into()));
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<tokio::task::JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// No lease is taken any more, and the background tasks end.
    fn stop_tasks(&self) {
        self.leases.stop_acquiring();
        for task in self.tasks().drain(..) {
            task.abort();
        }
    }

    /// Has the supervisor drive the order (if this instance holds or can take its lease).
    pub(super) fn drive(&self, order_id: &str) {
        if let Err(err) = self
            .supervisor
            .cast(OrderSupervisorMsg::Start(order_id.to_owned()))
        {
            tracing::error!(order = %order_id, error = %err, "cannot reach the order supervisor");
        }
    }
}
