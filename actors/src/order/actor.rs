//! The actor driving one order through RFC 8555 §7.4–7.4.2: answer the challenges, tell the CA
//! they are ready, poll until the order is ready, finalise with a CSR, download the chain, store
//! it as a certificate version.
//!
//! It is resumable by construction: each run reads the order row and asks the CA for the
//! order's current state, then does only what is left. Every transition is written to the store
//! before the next network step, so a crash or restart anywhere repeats at most one idempotent
//! request. Transient failures (the CA unreachable, a poll timing out) make the actor fail; its
//! supervisor restarts it with backoff. Final failures (the CA says invalid) end the order with
//! an error naming the domain, the challenge and the CA's problem.

use std::sync::Arc;

use instant_acme::{AuthorizationStatus, ChallengeStatus, OrderStatus as CaStatus};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use scaivault_domain::order::{ChallengeType, OrderError, OrderProgress, OrderRecord, OrderStatus};
use scaivault_domain::timestamp;

use super::context::Context;
use super::dns01::TxtChallenge;
use super::failure::{Failure, classify, publish_failure};
use super::finish::{EXPIRED, ending, finish};
use super::{issuance, placement, rate_ledger};
use crate::acme::{ProblemKind, challenge_type};
use crate::faults::OrderStep;

/// Messages of an order actor.
#[derive(Debug)]
pub(super) enum OrderMsg {
    /// Drive the order as far as it goes.
    Drive,
}

/// The account key a run of an order signs with.
struct UsedKey {
    account_id: String,
    /// Its RFC 7638 thumbprint.
    thumbprint: String,
}

/// The actor type; it is named after its order's id.
#[derive(Debug)]
pub(super) struct OrderActor {
    pub ctx: Arc<Context>,
}

impl Actor for OrderActor {
    type Msg = OrderMsg;
    type State = String;
    type Arguments = String;

    async fn pre_start(
        &self,
        myself: ActorRef<OrderMsg>,
        order_id: String,
    ) -> Result<String, ActorProcessingErr> {
        myself.cast(OrderMsg::Drive)?;
        Ok(order_id)
    }

    async fn handle(
        &self,
        myself: ActorRef<OrderMsg>,
        OrderMsg::Drive: OrderMsg,
        order_id: &mut String,
    ) -> Result<(), ActorProcessingErr> {
        let mut outcome = self.drive_with_current_key(order_id).await;
        while let Err(Failure::Reorder(error)) = outcome {
            tracing::warn!(order = %order_id, message = %error.message,
                "the CA could not reach this service's responder; placing the order again");
            outcome = match placement::place_again(&self.ctx, order_id).await {
                Ok(()) => self.drive_with_current_key(order_id).await,
                Err(_) => Err(Failure::Final(error)),
            };
        }
        if !matches!(outcome, Err(Failure::Transient(_))) {
            self.ctx.forget_pending(order_id);
        }
        match outcome {
            Ok(()) => {
                self.ctx.dns.clean_up_order(order_id).await;
                myself.stop(Some("order finished".into()));
                Ok(())
            }
            Err(Failure::Final(error)) => {
                let (status, error) = ending(&self.ctx, order_id, error).await?;
                tracing::warn!(order = %order_id, status = status.as_str(), code = %error.code, message = %error.message,
                    "order ended without a certificate");
                finish(&self.ctx, order_id, status, Some(error)).await?;
                self.ctx.dns.clean_up_order(order_id).await;
                myself.stop(Some("order invalid".into()));
                Ok(())
            }
            // Transient: let the supervisor restart us from the persisted state.
            Err(Failure::Transient(err)) => Err(err.to_string().into()),
            Err(Failure::Reorder(_)) => unreachable!("handled by the loop above"),
        }
    }
}

/// CA orders placed for one order at most: one more after validation could not reach us, so a
/// responder that is really unreachable costs one extra failed authorization, not a loop.
const MAX_CA_ATTEMPTS: i64 = 2;

/// The same when this process never saw the failed CA order pending: the CA validated while the
/// service was down, which says nothing about the responder, so a crash or restart during
/// validation must not cost the order. Still bounded (a crash loop is not an infinite one), and
/// within Let's Encrypt's 5 failed validations per account and hostname per hour
/// (<https://letsencrypt.org/docs/rate-limits/>).
const MAX_CA_ATTEMPTS_AFTER_DOWNTIME: i64 = 5;

/// Runs of an order repeated because its account's key changed under them: a rollover is
/// one change, so one repeat suffices; the second covers a rollover during that repeat.
const KEY_CHANGE_REDRIVES: u32 = 2;

impl OrderActor {
    /// [`Self::drive`], repeated when the account key changed while it ran (RFC 8555 §7.3.5):
    /// the CA refuses requests signed with the old key, which says nothing about the order, so
    /// the run starts again with the account's current client.
    async fn drive_with_current_key(&self, order_id: &str) -> Result<(), Failure> {
        let mut redrives = 0;
        loop {
            let mut used = None;
            let outcome = self.drive(order_id, &mut used).await;
            if !matches!(outcome, Err(Failure::Final(_) | Failure::Transient(_)))
                || redrives == KEY_CHANGE_REDRIVES
            {
                return outcome;
            }
            let Some(UsedKey {
                account_id,
                thumbprint,
            }) = used
            else {
                return outcome;
            };
            match self
                .ctx
                .accounts
                .key_changed(&account_id, &thumbprint)
                .await
            {
                Ok(true) => {
                    redrives += 1;
                    tracing::info!(order = %order_id, account = %account_id,
                        "the account key changed during the order's run; driving it again with the new key");
                }
                _ => return outcome,
            }
        }
    }

    /// One run; `used` says which account key it signed with, once it has one.
    async fn drive(&self, order_id: &str, used: &mut Option<UsedKey>) -> Result<(), Failure> {
        let ctx = &self.ctx;
        let Some(record) = ctx.store.get_order(order_id).await? else {
            return Ok(());
        };
        if record.status.is_final() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // Each step's time since the drive began, at debug level: where an order's time goes.
        let step = |name: &str| {
            tracing::debug!(order = %record.id, step = name,
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "order step done");
        };
        let account = ctx.accounts.client(&record.account_id).await?;
        *used = Some(UsedKey {
            account_id: record.account_id.clone(),
            thumbprint: account.key_thumbprint().to_owned(),
        });
        let mut order = account
            .order(record.order_url.clone())
            .await
            .map_err(|err| classify(&record, err))?;
        step("read order");

        if order.state().status == CaStatus::Pending {
            ctx.mark_pending(&record);
            self.answer_challenges(&record, &mut order).await?;
            step("challenges answered");
            ctx.faults.order_step(&record.id, OrderStep::Ready);
            // An order that turns invalid comes back as its problem document; the
            // authorizations say more precisely which domain failed and why.
            let polled = order.poll_ready(&ctx.poll).await;
            if order.state().status == CaStatus::Invalid {
                return Err(self.invalid(&record, &mut order).await);
            }
            polled.map_err(|err| classify(&record, err))?;
            step("ready");
        }
        if order.state().status == CaStatus::Invalid {
            return Err(self.invalid(&record, &mut order).await);
        }
        if order.state().status == CaStatus::Ready {
            self.progress(&record.id, OrderStatus::Ready).await?;
            ctx.faults.order_step(&record.id, OrderStep::Finalize);
            let csr = issuance::csr(ctx, &record).await?;
            self.progress(&record.id, OrderStatus::Processing).await?;
            step("key and csr stored");
            order
                .finalize_csr(&csr)
                .await
                .map_err(|err| classify(&record, err))?;
            step("finalized");
        }
        ctx.faults.order_step(&record.id, OrderStep::Certificate);
        let polled = order.poll_certificate(&ctx.poll).await;
        if order.state().status == CaStatus::Invalid {
            return Err(self.invalid(&record, &mut order).await);
        }
        let chain = polled.map_err(|err| classify(&record, err))?;
        step("certificate downloaded");
        issuance::store_certificate(ctx, &record, &chain).await?;
        step("certificate stored");
        self.settle_challenges(&record, &mut order).await;
        Ok(())
    }

    /// Answers each pending challenge and tells the CA it is ready (RFC 8555 §7.5.1). http-01
    /// and tls-alpn-01 are already served from the stored challenges; dns-01 values are written
    /// through the DNS provider and awaited on every authoritative nameserver first, so the CA
    /// never looks before the record is there.
    async fn answer_challenges(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
    ) -> Result<(), Failure> {
        let wanted = challenge_type(record.challenge_type);
        let stored = self.ctx.store.order_challenges(&record.id).await?;
        let mut to_ready = Vec::new();
        let mut txt = Vec::new();
        let mut refused = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(|err| classify(record, err))?;
            if authorization.status != AuthorizationStatus::Pending {
                continue;
            }
            let domain = authorization.identifier().to_string();
            let Some(challenge) = authorization.challenge(wanted.clone()) else {
                return Err(Failure::Final(OrderError::new(
                    "challenge_unavailable",
                    format!(
                        "{domain}: the CA offers no {} challenge",
                        record.challenge_type
                    ),
                )));
            };
            if challenge.status == ChallengeStatus::Pending {
                if record.challenge_type == ChallengeType::Dns01 {
                    txt.push(TxtChallenge {
                        domain: domain.clone(),
                        value: challenge.key_authorization().dns_value(),
                    });
                } else {
                    // The CA expects the key authorization of the key that answers the
                    // challenge: after an account key rollover (RFC 8555 §7.3.5), the new one.
                    // One answered already (`processing`) is validated against the key it was
                    // answered with, so it keeps what it serves.
                    let current = challenge.key_authorization();
                    let served = stored.iter().find(|c| c.domain == domain);
                    if served.is_some_and(|c| {
                        c.status == "pending" && c.key_authorization != current.as_str()
                    }) {
                        self.ctx
                            .store
                            .set_challenge_key_authorization(&record.id, &domain, current.as_str())
                            .await?;
                    }
                }
                to_ready.push(domain);
            }
        }
        if !txt.is_empty() {
            let provider_id = record.dns_provider_id.as_deref().unwrap_or_default();
            self.ctx
                .dns
                .publish(&record.id, provider_id, &txt)
                .await
                .map_err(|err| publish_failure(provider_id, err))?;
        }
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(|err| classify(record, err))?;
            let domain = authorization.identifier().to_string();
            if !to_ready.contains(&domain) {
                continue;
            }
            if let Some(mut challenge) = authorization.challenge(wanted.clone())
                && let Err(err) = challenge.set_ready().await
            {
                refused.push((domain, err));
                continue;
            }
            self.ctx
                .store
                .set_challenge_status(&record.id, &domain, "processing", None)
                .await?;
        }
        if !refused.is_empty() {
            self.recheck_refused(record, order, refused).await?;
        }
        Ok(())
    }

    /// A challenge the CA refused to mark ready may have been answered already, by a run that a
    /// crash interrupted after the CA accepted `set_ready` but before anything was recorded: a
    /// CA may keep such a challenge `pending` while it validates (Pebble 2.4 does), so the
    /// resumed run asks again, and once validation has ended the CA refuses (`malformed`,
    /// RFC 8555 §7.5.1: only a pending challenge can be responded to). Only a refusal of a
    /// challenge that is still pending ends the order; for the others the order poll that
    /// follows reports how validation went.
    async fn recheck_refused(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
        mut refused: Vec<(String, instant_acme::Error)>,
    ) -> Result<(), Failure> {
        let wanted = challenge_type(record.challenge_type);
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(|err| classify(record, err))?;
            let domain = authorization.identifier().to_string();
            if let Some(at) = refused.iter().position(|(d, _)| *d == domain) {
                // The order caches each authorization as first read: ask the CA again.
                let now = authorization
                    .refresh()
                    .await
                    .map_err(|err| classify(record, err))?;
                let still_pending = now.status == AuthorizationStatus::Pending
                    && now
                        .challenges
                        .iter()
                        .any(|c| c.r#type == wanted && c.status == ChallengeStatus::Pending);
                if still_pending {
                    return Err(classify(record, refused.swap_remove(at).1));
                }
                tracing::info!(order = %record.id, domain = %domain,
                    "challenge already answered by an interrupted run");
                self.ctx
                    .store
                    .set_challenge_status(&record.id, &domain, "processing", None)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records the challenges' final states (best effort: the order is already decided).
    async fn settle_challenges(&self, record: &OrderRecord, order: &mut instant_acme::Order) {
        let mut authorizations = order.authorizations();
        while let Some(Ok(authorization)) = authorizations.next().await {
            let domain = authorization.identifier().to_string();
            let status = match authorization.status {
                AuthorizationStatus::Valid => "valid",
                AuthorizationStatus::Pending => "pending",
                _ => "invalid",
            };
            let _ = self
                .ctx
                .store
                .set_challenge_status(&record.id, &domain, status, None)
                .await;
        }
    }

    /// Decides what an invalid CA order means: placed again when only the connection to our own
    /// http-01/tls-alpn-01 responder failed (we were down), final otherwise.
    async fn invalid(&self, record: &OrderRecord, order: &mut instant_acme::Order) -> Failure {
        let (error, unreachable_only) = self.why_invalid(record, order).await;
        let limit = if self.ctx.saw_pending(record) {
            MAX_CA_ATTEMPTS
        } else {
            MAX_CA_ATTEMPTS_AFTER_DOWNTIME
        };
        if unreachable_only
            && record.challenge_type != ChallengeType::Dns01
            && record.ca_attempts < limit
        {
            Failure::Reorder(error)
        } else {
            Failure::Final(error)
        }
    }

    /// Builds the error of an invalid order from its authorizations: which domain, which
    /// challenge, what the CA said (RFC 8555 §7.1.4 `error` on challenges). Also says whether
    /// every failure was the CA not reaching us (`connection` problems).
    async fn why_invalid(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
    ) -> (OrderError, bool) {
        let mut reasons = Vec::new();
        let mut kinds = Vec::new();
        let mut expired = Vec::new();
        let mut failed = Vec::new();
        let order_problem = order.state().error.clone();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let Ok(mut authorization) = authorization else {
                continue;
            };
            let _ = authorization.refresh().await;
            let domain = authorization.identifier().to_string();
            if authorization.status == AuthorizationStatus::Expired {
                expired.push(domain.clone());
            }
            if authorization.status == AuthorizationStatus::Invalid {
                failed.push(domain.clone());
            }
            let wanted = challenge_type(record.challenge_type);
            for challenge in authorization
                .challenges
                .iter()
                .filter(|c| c.r#type == wanted)
            {
                if let Some(problem) = &challenge.error {
                    kinds.push(ProblemKind::from_type(problem.r#type.as_deref()));
                    let text = format!(
                        "{domain}: {} challenge failed: {} ({})",
                        record.challenge_type,
                        problem.detail.as_deref().unwrap_or("no detail"),
                        problem.r#type.as_deref().unwrap_or("no problem type"),
                    );
                    let _ = self
                        .ctx
                        .store
                        .set_challenge_status(&record.id, &domain, "invalid", Some(&text))
                        .await;
                    reasons.push(text);
                }
            }
        }
        self.count_failures(record, &failed).await;
        // Nothing failed, but authorizations ran out of time (RFC 8555 §7.1.6: an order whose
        // authorizations expire becomes invalid): the order expired rather than failed.
        if reasons.is_empty() && !expired.is_empty() {
            return (
                OrderError::new(
                    EXPIRED,
                    format!(
                        "the CA order expired before it was finished: the authorizations for {} \
                         expired at the CA",
                        expired.join(", ")
                    ),
                ),
                false,
            );
        }
        if reasons.is_empty()
            && let Some(problem) = order_problem
        {
            reasons.push(format!(
                "the CA marked the order invalid: {} ({})",
                problem.detail.as_deref().unwrap_or("no detail"),
                problem.r#type.as_deref().unwrap_or("no problem type")
            ));
        }
        if reasons.is_empty() {
            reasons.push("the CA marked the order invalid without saying why".into());
        }
        let unreachable_only =
            !kinds.is_empty() && kinds.iter().all(|k| *k == ProblemKind::Connection);
        (
            OrderError::new("validation_failed", reasons.join("; ")),
            unreachable_only,
        )
    }

    /// Counts the authorizations that ended invalid in the local ledger (the CA counts them
    /// against the account and identifier: Let's Encrypt allows 5 an hour), before the order is
    /// placed again or ended, so the next order for these names is checked against them. A run
    /// that a crash interrupts after this may count the same CA order's failures twice: the
    /// ledger then errs towards asking the CA later, not sooner.
    async fn count_failures(&self, record: &OrderRecord, failed: &[String]) {
        if failed.is_empty() {
            return;
        }
        let ctx = &self.ctx;
        match ctx.store.get_account(&record.account_id).await {
            Ok(Some(account)) => {
                rate_ledger::record_failures(
                    &*ctx.store,
                    &ctx.limits,
                    &account,
                    failed,
                    timestamp::now(),
                )
                .await
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(order = %record.id, error = %err, "could not count failed authorizations")
            }
        }
    }

    async fn progress(&self, order_id: &str, status: OrderStatus) -> Result<(), Failure> {
        self.ctx
            .store
            .set_order_progress(
                order_id,
                &OrderProgress {
                    status,
                    error: None,
                    at: timestamp::now(),
                },
            )
            .await?;
        Ok(())
    }
}
