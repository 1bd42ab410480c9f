//! Renewals as durable jobs: the queue schedules, [`RenewalService::run`] does the work, and a
//! failed attempt comes back with durable exponential backoff (`[renewal] retry_base` doubling
//! up to `retry_max`, with jitter).
//!
//! A renewal held by the CA's pause of its account is not a failed attempt: its next task (the
//! daily probe) is stored like an ARI re-check, without backoff, and the hold is reported as a
//! `certificate.renewal_failed` event carrying the pause (`paused`, with the unpause link).
//!
//! Every task carries the certificate version it renews and is keyed by certificate, version,
//! ARI check and attempt ([`task_key`]). Scheduling a version's task retires the certificate's
//! other pending tasks, so a certificate has exactly one pending renewal task, and a stale task
//! (an older version's) does nothing.

use async_trait::async_trait;
use scaivault_actors::{Events, RenewalFailed, RenewalOutcome, RenewalScheduler, RenewalService};
use scaivault_domain::store::CertificateStore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Error, FailedAttempt, Job, JobError, JobQueue};

/// The apalis queue renewal tasks live in.
const RENEWAL_QUEUE: &str = "renewals";

/// A renewal task's idempotency key: one task per certificate, version, ARI check and attempt,
/// so a task is stored once however often it is pushed, and every task of a certificate shares
/// the prefix [`task_key_range`] selects (to supersede the old ones when a new version lands).
pub(crate) fn task_key(certificate_id: &str, version: i64, check: u32, attempt: u32) -> String {
    format!("renewal:{certificate_id}:v{version}:c{check}:a{attempt}")
}

/// The half-open range `[start, end)` of [`task_key`]s of one certificate: `:` + 1 is `;`, so
/// the range is an index range scan on both backends (no `LIKE`).
pub(crate) fn task_key_range(certificate_id: &str) -> (String, String) {
    (
        format!("renewal:{certificate_id}:"),
        format!("renewal:{certificate_id};"),
    )
}

/// Renew one version of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalTask {
    pub certificate_id: String,
    /// The version this task renews; a task for an older version than the current one is stale.
    #[serde(default)]
    pub version: i64,
    /// Renewal-information (RFC 9773) checks and held probes (the CA paused the account) before
    /// this task: each re-check is a new task.
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

/// A certificate version that needs its first renewal task, due at `renew_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FirstRenewal {
    pub certificate_id: String,
    pub version: i64,
    pub renew_at: time::OffsetDateTime,
}

/// The renewal queue.
#[derive(Clone)]
pub struct Renewals {
    queue: JobQueue<RenewalTask>,
}

impl std::fmt::Debug for Renewals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewals")
            .field("queue", &self.queue)
            .finish()
    }
}

impl Renewals {
    pub fn new(queue: JobQueue<RenewalTask>) -> Self {
        Self { queue }
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
            .queue
            .database()
            .supersede_renewal_tasks(&certificate_id, &key)
            .await
            .map_err(|err| err.to_string())?;
        if retired > 0 {
            tracing::debug!(certificate = %certificate_id, retired, "superseded renewal tasks retired");
        }
        Ok(())
    }
}

impl Renewals {
    /// Gives every valid, automatically renewed certificate that has no live renewal task one at
    /// its `renew_at` (at once when that has passed): seeded or imported certificates, and a
    /// task lost between storing a version and scheduling its renewal. Returns how many.
    ///
    /// A page of certificates at a time: which of them lack a task is one statement, and their
    /// tasks are stored with one more, where a push each would keep a service with 100,000
    /// certificates from starting for minutes. A certificate without a live task has nothing to
    /// retire, as [`Renewals::push`] would.
    pub async fn fill_gaps(&self, certificates: &dyn CertificateStore) -> Result<usize, Error> {
        const PAGE: u32 = 1000;
        let database = self.queue.database();
        let mut after = String::new();
        let mut scheduled = 0;
        loop {
            let page = certificates
                .renewal_candidates(&after, PAGE)
                .await
                .map_err(|err| Error::Store(Box::new(err)))?;
            let Some(last) = page.last() else {
                return Ok(scheduled);
            };
            after = last.certificate_id.clone();
            let ids: Vec<&str> = page.iter().map(|c| c.certificate_id.as_str()).collect();
            let gaps = database.without_live_renewal(&ids).await?;
            let first: Vec<FirstRenewal> = page
                .into_iter()
                .filter(|candidate| gaps.contains(&candidate.certificate_id))
                .map(|candidate| FirstRenewal {
                    certificate_id: candidate.certificate_id,
                    version: candidate.version,
                    renew_at: candidate.renew_at,
                })
                .collect();
            scheduled += database.insert_first_renewals(&first).await?;
        }
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
/// next attempt; so does each hold, with the pause.
pub fn start_worker(
    renewals: &Renewals,
    service: RenewalService,
    events: Events,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let hold_events = events.clone();
    renewals
        .queue
        .on_failure(move |failed: FailedAttempt<RenewalTask>| {
            scaivault_domain::metrics::RENEWALS_FAILED.inc();
            let events = events.clone();
            tokio::spawn(async move {
                events
                    .record(&RenewalFailed {
                        certificate_id: failed.task.certificate_id,
                        version: failed.task.version,
                        attempt: failed.task.attempt,
                        reason: failed.reason,
                        next_attempt_at: failed.next_attempt_at,
                        paused: None,
                    })
                    .await;
            });
        });
    let rescheduler = renewals.clone();
    renewals.queue.run(
        move |task: RenewalTask| {
            let service = service.clone();
            let renewals = rescheduler.clone();
            let events = hold_events.clone();
            async move {
                match service.run(&task.certificate_id, task.version).await {
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
                    // The CA paused the account: probe again then, keeping the attempt count
                    // (a hold is no failure to back off from), and say so with the link.
                    Ok(RenewalOutcome::Held(held)) => {
                        let next = RenewalTask {
                            check: task.check.saturating_add(1),
                            ..task.clone()
                        };
                        renewals
                            .push(next, held.probe_at)
                            .await
                            .map_err(JobError::new)?;
                        events
                            .record(&RenewalFailed {
                                certificate_id: task.certificate_id,
                                version: task.version,
                                attempt: task.attempt,
                                reason: held.reason,
                                next_attempt_at: Some(held.probe_at),
                                paused: Some(held.paused),
                            })
                            .await;
                        Ok(())
                    }
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
