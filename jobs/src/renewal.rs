//! The renewal queue wired to the order actors: the queue schedules, [`Orders::run_renewal`]
//! does the work, and a failed attempt comes back with durable exponential backoff
//! (`[renewal] retry_base` doubling up to `retry_max`, with jitter).

use async_trait::async_trait;
use scaivault_actors::{Orders, RenewalScheduler};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{FailedAttempt, JobError, RenewalQueue, RenewalTask};

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

/// Starts the renewal worker until `shutdown`. Each failed attempt becomes a
/// `certificate.renewal_failed` event with the reason, the attempt number and the time of the
/// next attempt.
pub fn start_worker(
    queue: &RenewalQueue,
    orders: Orders,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let reporter = orders.clone();
    queue.on_failure(move |failed: FailedAttempt| {
        let orders = reporter.clone();
        tokio::spawn(async move {
            orders
                .record_event(
                    "certificate.renewal_failed",
                    serde_json::json!({
                        "certificate_id": failed.task.certificate_id,
                        "attempt": failed.task.attempt,
                        "reason": failed.reason,
                        "next_attempt_at": scaivault_domain::timestamp::rfc3339(failed.next_attempt_at),
                    }),
                )
                .await;
        });
    });
    queue.run(
        move |task: RenewalTask| {
            let orders = orders.clone();
            async move {
                orders
                    .run_renewal(&task.certificate_id)
                    .await
                    .map_err(JobError::new)
            }
        },
        shutdown,
    )
}
