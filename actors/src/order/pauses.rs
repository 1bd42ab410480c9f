//! What placing an order does with a CA's pause (`scaivault_domain::pause`): a newOrder refused
//! with the pause wording, whatever its problem type, stores the pause and becomes
//! [`Error::Paused`]; a newOrder the CA accepts clears the account's pauses of its names, since
//! the CA no longer refuses them (the subscriber used the unpause link, or the CA lifted it).

use scaivault_domain::pause::{AccountPause, PauseNotice, PauseRefusal, redacted_url};
use scaivault_domain::timestamp;

use super::context::Context;
use crate::Error;

/// `err` from placing an order through `account_id`; a pause refusal is recorded and returned
/// as [`Error::Paused`], anything else unchanged.
pub(super) async fn refused(ctx: &Context, account_id: &str, err: Error) -> Error {
    let Error::Acme { problem } = &err else {
        return err;
    };
    let Some(notice) = problem.detail.as_deref().and_then(PauseNotice::parse) else {
        return err;
    };
    let now = timestamp::now();
    if let Err(store_err) = ctx
        .store
        .record_pauses(&AccountPause::from_notice(account_id, &notice, now))
        .await
    {
        tracing::warn!(account = %account_id, error = %store_err, "could not record the CA's pause");
    }
    // The link without its query: the JWT in it unpauses the account for whoever holds it.
    tracing::warn!(account = %account_id, identifiers = ?notice.identifiers,
        problem = problem.kind.name(),
        unpause = notice.unpause_url.as_deref().map(redacted_url).unwrap_or_default(),
        "the CA paused issuance for this account; its unpause link is on the account");
    let since = ctx
        .store
        .account_pauses(account_id)
        .await
        .ok()
        .and_then(|pauses| {
            pauses
                .iter()
                .filter(|p| notice.identifiers.contains(&p.identifier))
                .map(|p| p.paused_at)
                .min()
        })
        .unwrap_or(now);
    Error::Paused(PauseRefusal {
        account_id: account_id.to_owned(),
        identifiers: notice.identifiers,
        unpause_url: notice.unpause_url,
        since,
    })
}

/// The CA created an order for `names` through `account_id`: those names are not paused (any
/// more). One read when nothing is paused, which is nearly always.
pub(super) async fn accepted(ctx: &Context, account_id: &str, names: &[String]) {
    let paused = match ctx.store.account_pauses(account_id).await {
        Ok(pauses) => pauses,
        Err(err) => {
            tracing::warn!(account = %account_id, error = %err, "could not read the account's pauses");
            return;
        }
    };
    let lifted: Vec<String> = paused
        .into_iter()
        .map(|p| p.identifier)
        .filter(|identifier| names.iter().any(|n| n.eq_ignore_ascii_case(identifier)))
        .collect();
    if lifted.is_empty() {
        return;
    }
    match ctx.store.clear_pauses(account_id, Some(&lifted)).await {
        Ok(_) => {
            tracing::info!(account = %account_id, identifiers = ?lifted,
                "the CA accepts orders for these identifiers again; their pause is cleared")
        }
        Err(err) => {
            tracing::warn!(account = %account_id, error = %err, "could not clear the account's pauses")
        }
    }
}

impl super::handle::Orders {
    /// After an operator cleared `account_id`'s pauses of `identifiers`: each held renewal (a
    /// valid, automatically renewed certificate of the account naming one of them, whose
    /// renewal time has passed) is started now, as a forced renewal would be, rather than at its
    /// daily probe; the probe task finds the new version and ends. Pages through the renewal
    /// candidates, reading only the due ones; returns how many renewals were started.
    pub async fn resume_held_renewals(
        &self,
        account_id: &str,
        identifiers: &[String],
    ) -> Result<usize, Error> {
        const PAGE: u32 = 1000;
        let store = &self.ctx.store;
        let now = timestamp::now();
        let mut after = String::new();
        let mut resumed = 0;
        loop {
            let page = store.renewal_candidates(&after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(resumed);
            };
            after = last.certificate_id.clone();
            for candidate in page.iter().filter(|c| c.renew_at <= now) {
                let Some(certificate) = store.get_certificate(&candidate.certificate_id).await?
                else {
                    continue;
                };
                let held = certificate.account_id == account_id
                    && certificate.domains.iter().any(|name| {
                        identifiers
                            .iter()
                            .any(|paused| paused.eq_ignore_ascii_case(name))
                    });
                if !held {
                    continue;
                }
                // A CA that still pauses records the pause again, and the probe stays.
                match self.renew(&certificate.id).await {
                    Ok(_) => resumed += 1,
                    Err(err) => {
                        tracing::warn!(certificate = %certificate.id, error = %err, "could not resume a held renewal")
                    }
                }
            }
        }
    }
}
