//! Renewal as a unit of work for the job queue: "renew certificate X" succeeds only once a new
//! version exists, so the queue's durable backoff covers every way a renewal can fail (CA down,
//! validation failing, the process dying mid-way — the job is then run again and joins the
//! renewal in flight).
//!
//! One refusal is not retried with backoff: a CA's pause of the account for some of the
//! certificate's names (`scaivault_domain::pause`), which waiting does not lift. The renewal is
//! then held ([`RenewalOutcome::Held`]): it asks the CA again once a day after the CA's latest
//! refusal (a paused newOrder costs the CA nothing, and the subscriber may have used the unpause
//! link without telling us), and runs normally once the CA accepts, which clears the pause.

use std::time::Duration;

use scaivault_domain::certificate::CertificateRecord;
use scaivault_domain::certificate::CertificateStatus;
use scaivault_domain::order::{OrderRecord, OrderStatus};
use scaivault_domain::pause::{PROBE_INTERVAL, PauseSummary};
use scaivault_domain::timestamp;
use time::OffsetDateTime;

use super::ari::ari_plan;
use crate::Error;
use crate::events::RenewalPaused;
use crate::order::Orders;

/// How long one renewal job waits for its order before counting the attempt as failed.
const ORDER_WAIT: Duration = Duration::from_secs(15 * 60);
/// How often the job looks at its order's status.
const ORDER_POLL: Duration = Duration::from_millis(250);
/// A task due this much before `renew_at` still runs (clock granularity of the queue).
const EARLY_SLACK: time::Duration = time::Duration::seconds(5);

/// What a renewal job achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalOutcome {
    /// Renewed, or nothing to do.
    Done,
    /// Not yet: the CA's suggested renewal window (RFC 9773 §4.2) lies ahead; look again at
    /// this time (the chosen renewal time or the CA's Retry-After, whichever comes first).
    CheckAgainAt(OffsetDateTime),
    /// Held: the CA paused the account for some of the certificate's names. Not a failed
    /// attempt to back off from; ask again at the hold's `probe_at`.
    Held(HeldRenewal),
}

/// A renewal held by the CA's pause of its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRenewal {
    /// Why, for the event (without the unpause link, which is in `paused`).
    pub reason: String,
    pub paused: RenewalPaused,
    /// When to ask the CA again.
    pub probe_at: OffsetDateTime,
}

impl HeldRenewal {
    fn new(paused: RenewalPaused, probe_at: OffsetDateTime) -> Self {
        let reason = format!(
            "the CA paused issuance through account {} for {}: held until the pause is lifted with the CA's unpause link (`paused.unpause_url`, also on the account); the CA is asked again at {}",
            paused.account_id,
            paused.identifiers.join(", "),
            probe_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        );
        Self {
            reason,
            paused,
            probe_at,
        }
    }
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

/// The renewal and expiry jobs' work, over the orders.
#[derive(Debug, Clone)]
pub struct RenewalService {
    pub(super) orders: Orders,
}

impl RenewalService {
    pub fn new(orders: Orders) -> Self {
        Self { orders }
    }

    /// One renewal job for `version` of `certificate_id`. `Done` when there is nothing to do
    /// (the certificate is gone, revoked, not auto-renewed, already past `version`, or renewed
    /// since this task was scheduled) or the renewal produced a new version; an error with the
    /// reason (and the CA's Retry-After, if it gave one) otherwise.
    pub async fn run(
        &self,
        certificate_id: &str,
        version: i64,
    ) -> Result<RenewalOutcome, RenewalFailure> {
        let ctx = self.orders.context();
        let store = &ctx.store;
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
            &ctx.accounts,
            &**store,
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
        if let Some(held) = self.held(&certificate).await? {
            tracing::info!(certificate = %certificate_id, probe_at = %held.probe_at,
                "automatic renewal held: the CA paused the account for some of its names");
            return Ok(RenewalOutcome::Held(held));
        }
        let (order, _, joined) = match self.orders.renew(certificate_id).await {
            Err(Error::Paused(refusal)) => {
                let probe_at = timestamp::now() + PROBE_INTERVAL;
                return Ok(RenewalOutcome::Held(HeldRenewal::new(
                    refusal.into(),
                    probe_at,
                )));
            }
            other => other?,
        };
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

    /// The hold on `certificate`'s renewal when the CA refused one of its names less than
    /// [`PROBE_INTERVAL`] ago; past that, `None`: the renewal asks the CA (a probe), which
    /// clears the pause if the CA accepts and renews the hold if not.
    async fn held(&self, certificate: &CertificateRecord) -> Result<Option<HeldRenewal>, Error> {
        let pauses = self
            .orders
            .context()
            .store
            .account_pauses(&certificate.account_id)
            .await?;
        let Some(summary) = PauseSummary::covering(&pauses, &certificate.domains) else {
            return Ok(None);
        };
        let probe_at = summary.checked_at + PROBE_INTERVAL;
        if probe_at <= timestamp::now() {
            return Ok(None);
        }
        let paused = RenewalPaused {
            account_id: certificate.account_id.clone(),
            identifiers: summary.identifiers,
            unpause_url: summary.unpause_url,
            since: summary.since,
        };
        Ok(Some(HeldRenewal::new(paused, probe_at)))
    }

    /// Polls the order until it is final, up to [`ORDER_WAIT`].
    async fn wait_final(&self, order_id: &str) -> Result<OrderRecord, Error> {
        let deadline = tokio::time::Instant::now() + ORDER_WAIT;
        loop {
            let order = self
                .orders
                .context()
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
