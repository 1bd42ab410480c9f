//! ACME Renewal Information (RFC 9773): the CA's suggested window decides when a version renews.

use std::time::Duration;

use scaivault_domain::store::CertificateStore;
use scaivault_domain::{pki, renewal, timestamp};
use time::OffsetDateTime;

use crate::account::{Accounts, AriWindow};

/// The least time between two renewal-information requests for one certificate.
const ARI_RECHECK_FLOOR: Duration = Duration::from_secs(1);

/// When the CA offers renewal information, asks it for the current version's window, picks the
/// renewal time inside it (kept while the window stays the same, so repeated checks do not
/// re-roll it), stores it as `renew_at`, and returns `(renew_at, next check)`. When the CA
/// offers ARI but cannot be asked now, `current_renew_at` stands and the next check is within
/// [`renewal::ARI_RECHECK_MAX`]. `None` when the CA offers no ARI (or no renewal time is known).
pub(crate) async fn ari_plan(
    accounts: &Accounts,
    certificates: &dyn CertificateStore,
    certificate_id: &str,
    account_id: &str,
    version: i64,
    chain_pem: &str,
    current_renew_at: Option<OffsetDateTime>,
) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let cert_id = pki::renewal_cert_id(chain_pem).ok()?;
    let window = match accounts.renewal_info(account_id, &cert_id).await {
        Ok(Some(window)) => window,
        Ok(None) => return None,
        Err(err) => {
            // The CA offers ARI but could not answer now: the lifetime-based time stands, and
            // the CA is asked again within the usual bound rather than only at that time.
            let next_check =
                current_renew_at.map(|at| at.min(timestamp::now() + renewal::ARI_RECHECK_MAX));
            tracing::warn!(certificate = %certificate_id, error = %err, next_check = ?next_check.map(timestamp::rfc3339), "cannot read the CA's renewal information; using the lifetime-based renewal time");
            return current_renew_at.zip(next_check);
        }
    };
    // Stored in milliseconds: compare at that precision.
    let window = AriWindow {
        start: timestamp::from_millis(timestamp::to_millis(window.start)),
        end: timestamp::from_millis(timestamp::to_millis(window.end)),
        ..window
    };
    let now = timestamp::now();
    let previous = certificates
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
    if let Err(err) = certificates
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
