//! The renewal queue wired to the order actors: the queue schedules, [`Orders::run_renewal`]
//! does the work, and a failed attempt comes back with durable exponential backoff
//! (`[renewal] retry_base` doubling up to `retry_max`, with jitter).

use async_trait::async_trait;
use scaivault_actors::{Orders, RenewalScheduler};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{JobError, RenewalQueue, RenewalTask};

#[async_trait]
impl RenewalScheduler for RenewalQueue {
    async fn schedule(&self, certificate_id: &str, run_at: OffsetDateTime) -> Result<(), String> {
        RenewalQueue::schedule(
            self,
            RenewalTask {
                certificate_id: certificate_id.to_owned(),
                attempt: 0,
            },
            run_at,
        )
        .await
        .map_err(|err| err.to_string())
    }
}

/// Starts the renewal worker until `shutdown`.
pub fn start_worker(
    queue: &RenewalQueue,
    orders: Orders,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    queue.run(
        move |task: RenewalTask| {
            let orders = orders.clone();
            async move {
                orders
                    .run_renewal(&task.certificate_id)
                    .await
                    .map_err(|reason| {
                        // The event log (certificate.renewal_failed) arrives with events; until
                        // then the failure, its attempt and the retry are in the log.
                        tracing::warn!(certificate = %task.certificate_id, attempt = task.attempt,
                            reason = %reason, "automatic renewal failed; retrying with backoff");
                        JobError::new(reason)
                    })
            }
        },
        shutdown,
    )
}
