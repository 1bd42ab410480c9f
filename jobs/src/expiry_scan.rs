//! The expiry scan: at start and every `[renewal] scan_interval`, certificates close to expiry
//! or with an overdue renewal are reported (`certificate.expiring`, once per version). A missed
//! scan costs nothing — the next one finds the same certificates — so it is a periodic task of
//! each instance rather than a queued job.

use std::time::Duration;

use scaivault_actors::Orders;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long past `renew_at` a renewal may still be running before it counts as overdue.
const OVERDUE_GRACE: Duration = Duration::from_secs(10 * 60);

/// Runs the scan now and every `interval` until `shutdown`.
pub fn start_expiry_scan(
    orders: Orders,
    within: Duration,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            match orders.report_expiring(within, OVERDUE_GRACE).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "expiry scan reported certificates"),
                Err(err) => {
                    tracing::warn!(error = %err, "expiry scan failed; trying again next time")
                }
            }
        }
    })
}
