//! Renewals as durable jobs: the queue schedules, [`Orders::run_renewal`] does the work, and a
//! failed attempt comes back with durable exponential backoff (`[renewal] retry_base` doubling
//! up to `retry_max`, with jitter).
//!
//! Every task carries the certificate version it renews and is keyed by certificate, version,
//! ARI check and attempt ([`scaivault_domain::renewal::task_key`]). Scheduling a version's task
//! retires the certificate's other pending tasks, so a certificate has exactly one pending
//! renewal task, and a stale task (an older version's) does nothing.

use async_trait::async_trait;
use scaivault_actors::{Orders, RenewalOutcome, RenewalScheduler};
use scaivault_domain::SharedStore;
use scaivault_domain::renewal::{RENEWAL_QUEUE, task_key};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{FailedAttempt, Job, JobError, JobQueue};

/// Renew one version of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalTask {
    pub certificate_id: String,
    /// The version this task renews; a task for an older version than the current one is stale.
    #[serde(default)]
    pub version: i64,
    /// Renewal-information (RFC 9773) checks before this task: each re-check is a new task.
    #[serde(default)]
    pub check: u32,
    /// Failed attempts before this one (0 for the first).
    pub attempt: u32,
}

impl Job for RenewalTask {
    const QUEUE: &'static str = RENEWAL_QUEUE;

    fn attempt(&self) -> u32 {
        self.attempt
    }

    fn next_attempt(&self) -> Self {
        Self {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }

    fn key(&self) -> Option<String> {
        Some(task_key(
            &self.certificate_id,
            self.version,
            self.check,
            self.attempt,
        ))
    }

    fn subject(&self) -> String {
        format!("{} v{}", self.certificate_id, self.version)
    }
}

/// The renewal queue plus the store, which retires superseded tasks.
#[derive(Clone)]
pub struct Renewals {
    queue: JobQueue<RenewalTask>,
    store: SharedStore,
}

impl std::fmt::Debug for Renewals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewals")
            .field("queue", &self.queue)
            .finish()
    }
}

impl Renewals {
    pub fn new(queue: JobQueue<RenewalTask>, store: SharedStore) -> Self {
        Self { queue, store }
    }

    /// The queue (for the dashboard and the worker).
    pub fn queue(&self) -> &JobQueue<RenewalTask> {
        &self.queue
    }

    /// Stores `task` and retires every other pending task of its certificate.
    pub async fn push(&self, task: RenewalTask, run_at: OffsetDateTime) -> Result<(), String> {
        let key = task.key().unwrap_or_default();
        let certificate_id = task.certificate_id.clone();
        self.queue
            .schedule(task, run_at)
            .await
            .map_err(|err| err.to_string())?;
        let retired = self
            .store
            .supersede_renewal_tasks(&certificate_id, &key)
            .await
            .map_err(|err| err.to_string())?;
        if retired > 0 {
            tracing::debug!(certificate = %certificate_id, retired, "superseded renewal tasks retired");
        }
        Ok(())
    }
}

#[async_trait]
impl RenewalScheduler for Renewals {
    async fn schedule(
        &self,
        certificate_id: &str,
        version: i64,
        run_at: OffsetDateTime,
    ) -> Result<(), String> {
        self.push(
            RenewalTask {
                certificate_id: certificate_id.to_owned(),
                version,
                check: 0,
                attempt: 0,
            },
            run_at,
        )
        .await
    }
}

/// Starts the renewal worker until `shutdown`. Each failed attempt becomes a
/// `certificate.renewal_failed` event with the reason, the attempt number and the time of the
/// next attempt.
pub fn start_worker(
    renewals: &Renewals,
    orders: Orders,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let reporter = orders.clone();
    renewals
        .queue
        .on_failure(move |failed: FailedAttempt<RenewalTask>| {
            scaivault_domain::metrics::RENEWALS_FAILED.inc();
            let orders = reporter.clone();
            tokio::spawn(async move {
                orders
                    .record_event(
                        "certificate.renewal_failed",
                        serde_json::json!({
                            "certificate_id": failed.task.certificate_id,
                            "version": failed.task.version,
                            "attempt": failed.task.attempt,
                            "reason": failed.reason,
                            "next_attempt_at": failed.next_attempt_at.map(scaivault_domain::timestamp::rfc3339),
                        }),
                    )
                    .await;
            });
        });
    let rescheduler = renewals.clone();
    renewals.queue.run(
        move |task: RenewalTask| {
            let orders = orders.clone();
            let renewals = rescheduler.clone();
            async move {
                match orders.run_renewal(&task.certificate_id, task.version).await {
                    Ok(RenewalOutcome::Done) => Ok(()),
                    // The CA's renewal window (RFC 9773) lies ahead: look again then.
                    Ok(RenewalOutcome::CheckAgainAt(at)) => renewals
                        .push(
                            RenewalTask {
                                check: task.check.saturating_add(1),
                                attempt: 0,
                                ..task
                            },
                            at,
                        )
                        .await
                        .map_err(JobError::new),
                    Err(failure) => Err(match failure.retry_after {
                        Some(wait) => JobError::new(failure.message).with_retry_after(wait),
                        None => JobError::new(failure.message),
                    }),
                }
            }
        },
        shutdown,
    )
}
