//! Order leases: with several instances on one database, each unfinished order is driven by
//! exactly one instance at a time, the one holding its lease.
//!
//! The order supervisor takes an order's lease before it starts the order's actor and hands it
//! back when the actor ends (the order is final, or it failed too often). While actors run, one
//! keeper task per instance extends every lease the instance holds every `lease / 3` in one
//! statement; an order whose lease another instance took in the meantime is reported lost and
//! its actor is killed at once. If the database cannot be reached for two thirds of a lease, the
//! instance stops driving every order (it can no longer prove it holds them): another instance,
//! or this one once the database answers again, takes them over when the leases expire.
//!
//! A takeover pass (at start and every `lease / 2`) looks for unfinished orders nobody drives
//! (no lease, or an expired one) and starts them; the atomic acquire in the store decides between
//! instances that look at the same time. The same pass drops expired leases of final orders, left
//! by an instance that died between an order's end and handing its lease back. A graceful
//! shutdown kills the order actors and hands every lease back in one statement, so the other
//! instances take over within `lease / 2`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use scaivault_domain::store::LeaseStore;
use scaivault_domain::timestamp;

use super::config::Cluster;

/// Unfinished orders started per takeover pass at most.
const TAKEOVER_BATCH: u32 = 500;

/// The leases this instance holds, and the statements around them.
#[derive(Debug)]
pub(crate) struct Leases {
    store: Arc<dyn LeaseStore>,
    cluster: Cluster,
    /// Orders whose lease this instance holds (their actor runs or is being restarted).
    held: Mutex<HashSet<String>>,
    /// Set at shutdown: no lease is taken any more.
    stopping: AtomicBool,
}

impl Leases {
    pub(crate) fn new(store: Arc<dyn LeaseStore>, cluster: Cluster) -> Self {
        Self {
            store,
            cluster,
            held: Mutex::default(),
            stopping: AtomicBool::new(false),
        }
    }

    /// From now on no lease is taken (graceful shutdown).
    pub(crate) fn stop_acquiring(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub(crate) fn instance_id(&self) -> &str {
        &self.cluster.instance_id
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this instance holds the order's lease (as far as it knows).
    pub(crate) fn holds(&self, order_id: &str) -> bool {
        self.held().contains(order_id)
    }

    /// Takes (or extends) the order's lease; `false` when another instance holds it or the
    /// database cannot be reached.
    pub(crate) async fn acquire(&self, order_id: &str) -> bool {
        if self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let now = timestamp::now();
        let until = now + self.cluster.lease;
        match self
            .store
            .acquire_order_lease(order_id, &self.cluster.instance_id, now, until)
            .await
        {
            Ok(true) => {
                self.held().insert(order_id.to_owned());
                true
            }
            Ok(false) => {
                self.held().remove(order_id);
                tracing::debug!(order = %order_id, "another instance drives this order");
                false
            }
            Err(err) => {
                tracing::warn!(order = %order_id, error = %err, "cannot take the order's lease");
                false
            }
        }
    }

    /// Hands the order's lease back (its actor ended).
    pub(crate) async fn release(&self, order_id: &str) {
        let was_held = self.held().remove(order_id);
        if !was_held {
            return;
        }
        if let Err(err) = self
            .store
            .release_order_lease(order_id, &self.cluster.instance_id)
            .await
        {
            // Not lost: the lease expires and the order is final anyway.
            tracing::warn!(order = %order_id, error = %err, "cannot hand the order's lease back");
        }
    }

    /// Forgets the order without touching the store (its lease was lost).
    pub(crate) fn forget(&self, order_id: &str) {
        self.held().remove(order_id);
    }

    /// Hands every lease back at once (graceful shutdown).
    pub(crate) async fn release_all(&self) -> u64 {
        self.held().clear();
        match self
            .store
            .release_order_leases(&self.cluster.instance_id)
            .await
        {
            Ok(count) => count,
            Err(err) => {
                tracing::warn!(error = %err, "cannot hand the order leases back; they expire");
                0
            }
        }
    }

    /// One renewal round: extends every held lease; returns the orders whose lease was lost.
    /// `last_ok` is when a round last reached the database.
    async fn renew(&self, last_ok: &mut Instant) -> Vec<String> {
        let snapshot: HashSet<String> = self.held().clone();
        if snapshot.is_empty() {
            *last_ok = Instant::now();
            return Vec::new();
        }
        let until = timestamp::now() + self.cluster.lease;
        match self
            .store
            .renew_order_leases(&self.cluster.instance_id, until)
            .await
        {
            Ok(renewed) => {
                *last_ok = Instant::now();
                let renewed: HashSet<String> = renewed.into_iter().collect();
                let lost: Vec<String> = snapshot.difference(&renewed).cloned().collect();
                let mut held = self.held();
                for id in &lost {
                    held.remove(id);
                }
                lost
            }
            Err(err) => {
                // Past two thirds of a lease without a renewal another instance may take the
                // orders over at any moment: stop driving them rather than race it.
                if last_ok.elapsed() >= self.cluster.lease * 2 / 3 {
                    tracing::error!(error = %err, orders = snapshot.len(),
                        "cannot renew the order leases; stopping every order here");
                    let mut held = self.held();
                    for id in &snapshot {
                        held.remove(id);
                    }
                    snapshot.into_iter().collect()
                } else {
                    tracing::warn!(error = %err, "cannot renew the order leases; retrying");
                    Vec::new()
                }
            }
        }
    }

    /// Drops expired leases left on final orders (their holder died between the order's end
    /// and the hand-back), so the lease table holds only orders someone may still drive.
    async fn clear_stale(&self) {
        match self.store.clear_stale_order_leases(timestamp::now()).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "dropped expired leases of finished orders"),
            Err(err) => {
                tracing::warn!(error = %err, "cannot drop expired leases of finished orders")
            }
        }
    }

    /// Orders nobody drives, for a takeover pass.
    pub(crate) async fn claimable(&self) -> Vec<String> {
        match self
            .store
            .claimable_orders(timestamp::now(), TAKEOVER_BATCH)
            .await
        {
            Ok(ids) => ids,
            Err(err) => {
                tracing::warn!(error = %err, "cannot look for orders to take over");
                Vec::new()
            }
        }
    }

    /// Runs the keeper (renewal every `lease / 3`), which calls `lost` with each order whose
    /// lease another instance took, and the takeover pass (every `lease / 2`), which calls
    /// `claim` with each order nobody drives; until aborted.
    pub(crate) fn spawn_loops(
        self: &Arc<Self>,
        lost: impl Fn(String) + Send + 'static,
        claim: impl Fn(String) + Send + 'static,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let keeper = {
            let leases = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(leases.cluster.lease / 3);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut last_ok = Instant::now();
                loop {
                    tick.tick().await;
                    for order_id in leases.renew(&mut last_ok).await {
                        tracing::warn!(order = %order_id,
                            "lost the order's lease to another instance; no longer driving it");
                        lost(order_id);
                    }
                }
            })
        };
        let takeover = {
            let leases = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(leases.cluster.lease / 2);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await; // the start-up pass already ran
                loop {
                    tick.tick().await;
                    leases.clear_stale().await;
                    for order_id in leases.claimable().await {
                        if !leases.holds(&order_id) {
                            tracing::info!(order = %order_id, "taking over an order nobody drives");
                        }
                        claim(order_id);
                    }
                }
            })
        };
        vec![keeper, takeover]
    }
}
