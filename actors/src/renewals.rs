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
use scaivault_domain::{renewal, timestamp};
use time::OffsetDateTime;

use crate::{Error, Orders};

/// Where renewals are scheduled (the durable job queue); implemented by the jobs crate.
#[async_trait]
pub trait RenewalScheduler: Send + Sync + fmt::Debug {
    /// Runs the renewal of `version` of `certificate_id` at `run_at` (first attempt), and
    /// retires the certificate's other pending renewal tasks: one pending task per certificate.
    async fn schedule(
        &self,
        certificate_id: &str,
        version: i64,
        run_at: OffsetDateTime,
    ) -> Result<(), String>;
}

/// What a renewal job achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalOutcome {
    /// Renewed, or nothing to do.
    Done,
    /// Not yet: the CA's suggested renewal window (RFC 9773 §4.2) lies ahead; look again at
    /// this time (the chosen renewal time or the CA's Retry-After, whichever comes first).
    CheckAgainAt(OffsetDateTime),
}

/// A failed renewal attempt: why, and how long the CA asked us to wait (its Retry-After).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalFailure {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl From<String> for RenewalFailure {
    fn from(message: String) -> Self {
        Self {
            message,
            retry_after: None,
        }
    }
}

impl From<Error> for RenewalFailure {
    fn from(error: Error) -> Self {
        Self {
            retry_after: error.retry_after(),
            message: error.to_string(),
        }
    }
}

impl From<scaivault_domain::Error> for RenewalFailure {
    fn from(error: scaivault_domain::Error) -> Self {
        Error::from(error).into()
    }
}

/// A CA's suggested renewal window (RFC 9773 §4.2) and its Retry-After for the next look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AriWindow {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub retry_after: Duration,
}

/// The least time between two renewal-information requests for one certificate.
const ARI_RECHECK_FLOOR: Duration = Duration::from_secs(1);

/// When the CA offers renewal information (RFC 9773), asks it for the current version's window,
/// picks the renewal time inside it (kept while the window stays the same, so repeated checks do
/// not re-roll it), stores it as `renew_at`, and returns `(renew_at, next check)`. `None` when
/// the CA offers no ARI or cannot be asked now (then the lifetime-based `renew_at` stands).
pub(crate) async fn ari_plan(
    ctx: &crate::order::OrderContext,
    certificate_id: &str,
    account_id: &str,
    version: i64,
    chain_pem: &str,
    current_renew_at: Option<OffsetDateTime>,
) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let cert_id = scaivault_domain::pki::renewal_cert_id(chain_pem).ok()?;
    let window = match ctx.accounts.renewal_info(account_id, &cert_id).await {
        Ok(Some(window)) => window,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!(certificate = %certificate_id, error = %err, "cannot read the CA's renewal information; using the lifetime-based renewal time");
            return None;
        }
    };
    // Stored in milliseconds: compare at that precision.
    let window = AriWindow {
        start: timestamp::from_millis(timestamp::to_millis(window.start)),
        end: timestamp::from_millis(timestamp::to_millis(window.end)),
        ..window
    };
    let now = timestamp::now();
    let previous = ctx
        .store
        .renewal_window(certificate_id)
        .await
        .ok()
        .flatten();
    let renew_at = match current_renew_at {
        Some(at)
            if previous == Some((window.start, window.end))
                && at >= window.start
                && at < window.end =>
        {
            at
        }
        _ => renewal::pick_in_window(window.start, window.end, now),
    };
    if let Err(err) = ctx
        .store
        .set_renewal_plan(
            certificate_id,
            version,
            renew_at,
            Some((window.start, window.end)),
        )
        .await
    {
        tracing::warn!(certificate = %certificate_id, error = %err, "cannot store the renewal plan");
    }
    let recheck = renewal::ari_recheck_after(window.retry_after, ARI_RECHECK_FLOOR);
    let next_check = renew_at.min(now + recheck);
    tracing::debug!(certificate = %certificate_id, renew_at = %timestamp::rfc3339(renew_at),
        window_start = %timestamp::rfc3339(window.start), window_end = %timestamp::rfc3339(window.end),
        next_check = %timestamp::rfc3339(next_check), "renewal information read");
    Some((renew_at, next_check))
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
    /// One renewal job for `version` of `certificate_id`. `Done` when there is nothing to do
    /// (the certificate is gone, revoked, not auto-renewed, already past `version`, or renewed
    /// since this task was scheduled) or the renewal produced a new version; an error with the
    /// reason (and the CA's Retry-After, if it gave one) otherwise.
    pub async fn run_renewal(
        &self,
        certificate_id: &str,
        version: i64,
    ) -> Result<RenewalOutcome, RenewalFailure> {
        let store = &self.ctx().store;
        let Some(certificate) = store.get_certificate(certificate_id).await? else {
            return Ok(RenewalOutcome::Done);
        };
        if !certificate.auto_renew || certificate.status != CertificateStatus::Valid {
            return Ok(RenewalOutcome::Done);
        }
        if version > 0 && certificate.current_version > version {
            // Stale: a newer version exists and has its own task.
            return Ok(RenewalOutcome::Done);
        }
        let chain_pem = store
            .version_by_serial(&certificate.serial_number)
            .await?
            .map(|v| v.chain_pem)
            .unwrap_or_default();
        let due = match ari_plan(
            self.ctx(),
            certificate_id,
            &certificate.account_id,
            certificate.current_version,
            &chain_pem,
            certificate.renew_at,
        )
        .await
        {
            // RFC 9773 §4.2: renew at the chosen time inside the CA's window.
            Some((renew_at, next_check)) => (renew_at <= timestamp::now() + EARLY_SLACK)
                .then_some(())
                .ok_or(next_check),
            None => match certificate.renew_at {
                Some(at) if at > timestamp::now() + EARLY_SLACK => Err(at),
                _ => Ok(()),
            },
        };
        if let Err(next) = due {
            // Not due (yet, or any more: a forced renewal moved renew_at): this task's
            // successor keeps the certificate's one pending renewal task.
            return Ok(RenewalOutcome::CheckAgainAt(next));
        }
        let (order, _, joined) = self.renew(certificate_id).await?;
        tracing::info!(certificate = %certificate_id, order = %order.id, joined, "automatic renewal running");
        let done = self.wait_final(&order.id).await?;
        match done.status {
            OrderStatus::Valid => {
                tracing::info!(certificate = %certificate_id, order = %order.id, "certificate renewed");
                scaivault_domain::metrics::RENEWALS_SUCCEEDED.inc();
                Ok(RenewalOutcome::Done)
            }
            status => Err(RenewalFailure::from(match done.error {
                Some(error) => format!(
                    "renewal order {} ended {}: {}",
                    order.id,
                    status.as_str(),
                    error.message
                ),
                None => format!("renewal order {} ended {}", order.id, status.as_str()),
            })),
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
}

/// Appends an event to the log (see [`Orders::record_event`]).
pub(crate) async fn record_event(
    store: &scaivault_domain::SharedStore,
    kind: &'static str,
    data: serde_json::Value,
) {
    let event = scaivault_domain::event::Event::new(kind, data);
    match store.insert_event(&event).await {
        // Its webhook deliveries were written with it: queue them now.
        Ok(()) => crate::event_signal::raise(),
        Err(err) => tracing::error!(event = kind, error = %err, "cannot record an event"),
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
