//! Renewal as a unit of work for the job queue: "renew certificate X" succeeds only once a new
//! version exists, so the queue's durable backoff covers every way a renewal can fail (CA down,
//! validation failing, the process dying mid-way — the job is then run again and joins the
//! renewal in flight).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use scaivault_domain::certificate::CertificateStatus;
use scaivault_domain::order::{OrderRecord, OrderStatus};
use scaivault_domain::timestamp;
use time::OffsetDateTime;

use crate::{Error, Orders};

/// Where renewals are scheduled (the durable job queue); implemented by the jobs crate.
#[async_trait]
pub trait RenewalScheduler: Send + Sync + fmt::Debug {
    /// Runs the renewal of `certificate_id` at `run_at` (first attempt).
    async fn schedule(&self, certificate_id: &str, run_at: OffsetDateTime) -> Result<(), String>;
}

/// A scheduler shared by the order actors.
pub type SharedScheduler = Arc<dyn RenewalScheduler>;

/// How long one renewal job waits for its order before counting the attempt as failed.
const ORDER_WAIT: Duration = Duration::from_secs(15 * 60);
/// How often the job looks at its order's status.
const ORDER_POLL: Duration = Duration::from_millis(250);
/// A task due this much before `renew_at` still runs (clock granularity of the queue).
const EARLY_SLACK: time::Duration = time::Duration::seconds(5);

impl Orders {
    /// One renewal job for `certificate_id`. `Ok` when there is nothing to do (the certificate
    /// is gone, revoked, not auto-renewed, or was renewed since this task was scheduled) or the
    /// renewal produced a new version; `Err` with the reason otherwise.
    pub async fn run_renewal(&self, certificate_id: &str) -> Result<(), String> {
        let store = &self.ctx().store;
        let Some(certificate) = store
            .get_certificate(certificate_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if !certificate.auto_renew || certificate.status != CertificateStatus::Valid {
            return Ok(());
        }
        if certificate
            .renew_at
            .is_some_and(|at| at > timestamp::now() + EARLY_SLACK)
        {
            // Renewed (or forced) since this task was scheduled; its own task is pending.
            return Ok(());
        }
        let (order, _, joined) = self
            .renew(certificate_id)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(certificate = %certificate_id, order = %order.id, joined, "automatic renewal running");
        let done = self
            .wait_final(&order.id)
            .await
            .map_err(|e| e.to_string())?;
        match done.status {
            OrderStatus::Valid => {
                tracing::info!(certificate = %certificate_id, order = %order.id, "certificate renewed");
                Ok(())
            }
            status => Err(match done.error {
                Some(error) => format!(
                    "renewal order {} ended {}: {}",
                    order.id,
                    status.as_str(),
                    error.message
                ),
                None => format!("renewal order {} ended {}", order.id, status.as_str()),
            }),
        }
    }

    /// Reports certificates close to expiry (within `within` of `not_after`) or whose renewal is
    /// overdue (past `renew_at` by more than `grace` without a new version) with a
    /// `certificate.expiring` event, once per version. Returns how many were reported.
    pub async fn report_expiring(&self, within: Duration, grace: Duration) -> Result<usize, Error> {
        let store = &self.ctx().store;
        let now = timestamp::now();
        let expires_before = now + time::Duration::try_from(within).unwrap_or(time::Duration::MAX);
        let overdue_before = now - time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO);
        let certificates = store
            .expiring_certificates(expires_before, overdue_before)
            .await?;
        for certificate in &certificates {
            let reason = if certificate.not_after <= expires_before {
                format!(
                    "expires at {}, within {}",
                    timestamp::rfc3339(certificate.not_after),
                    humanize(within)
                )
            } else {
                format!(
                    "renewal overdue since {} without a new version",
                    certificate
                        .renew_at
                        .map(timestamp::rfc3339)
                        .unwrap_or_default()
                )
            };
            tracing::warn!(certificate = %certificate.id, reason = %reason, "certificate expiring");
            self.record_event(
                "certificate.expiring",
                serde_json::json!({
                    "certificate_id": certificate.id,
                    "domains": certificate.domains,
                    "version": certificate.current_version,
                    "serial_number": scaivault_domain::pki::serial_with_colons(&certificate.serial_number),
                    "not_after": timestamp::rfc3339(certificate.not_after),
                    "renew_at": certificate.renew_at.map(timestamp::rfc3339),
                    "auto_renew": certificate.auto_renew,
                    "reason": reason,
                }),
            )
            .await;
            store
                .mark_expiring_notified(&certificate.id, certificate.current_version)
                .await?;
        }
        Ok(certificates.len())
    }

    /// Appends an event to the log; a failure to record one is logged, never fatal to the work
    /// the event describes.
    pub async fn record_event(&self, kind: &'static str, data: serde_json::Value) {
        record_event(&self.ctx().store, kind, data).await;
    }

    /// Polls the order until it is final, up to [`ORDER_WAIT`].
    async fn wait_final(&self, order_id: &str) -> Result<OrderRecord, Error> {
        let deadline = tokio::time::Instant::now() + ORDER_WAIT;
        loop {
            let order = self
                .ctx()
                .store
                .get_order(order_id)
                .await?
                .ok_or_else(|| scaivault_domain::Error::not_found("order", order_id))?;
            if order.status.is_final() {
                return Ok(order);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "renewal order {order_id} did not finish within {} minutes",
                    ORDER_WAIT.as_secs() / 60
                )));
            }
            tokio::time::sleep(ORDER_POLL).await;
        }
    }

    /// Schedules every overdue automatic renewal now: certificates whose task was lost (e.g. a
    /// crash between storing a version and scheduling its renewal). A duplicate of a task that
    /// still exists is harmless: the second run finds the renewal done or joins it.
    pub async fn schedule_overdue_renewals(&self) -> Result<usize, Error> {
        let Some(scheduler) = self.ctx().scheduler.clone() else {
            return Ok(0);
        };
        let now = timestamp::now();
        let due = self.ctx().store.due_renewals(now).await?;
        for certificate_id in &due {
            if let Err(err) = scheduler.schedule(certificate_id, now).await {
                tracing::error!(certificate = %certificate_id, error = %err, "cannot schedule an overdue renewal");
            }
        }
        Ok(due.len())
    }
}

/// Appends an event to the log (see [`Orders::record_event`]).
pub(crate) async fn record_event(
    store: &scaivault_domain::SharedStore,
    kind: &'static str,
    data: serde_json::Value,
) {
    let event = scaivault_domain::event::Event::new(kind, data);
    if let Err(err) = store.insert_event(&event).await {
        tracing::error!(event = kind, error = %err, "cannot record an event");
    }
}

/// `1209600s` as `14d`, for messages.
fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format!("{secs}s")
    }
}
