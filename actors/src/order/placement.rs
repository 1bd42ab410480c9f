//! Placing an order at the CA through its account's actor: the first time (checked against CAA,
//! counted in the local rate-limit ledger), and again when the CA could not reach this service's
//! responder (the same names at the same CA: CAA was checked already). Either way a CA's pause
//! refusal is recorded, and an accepted order clears its names' pauses.

use scaivault_domain::order::{ChallengeRecord, ChallengeType, OrderRecord, OrderStatus};
use scaivault_domain::{Error as DomainError, ids, pki, timestamp};

use super::caa_check;
use super::context::Context;
use super::{pauses, rate_ledger};
use crate::Error;
use crate::account::{CreatedChallenge, NewOrderSpec};

/// What a new order asks for, whether a first issuance or a renewal.
pub(super) struct OrderPlan {
    pub account_id: String,
    pub certificate_id: Option<String>,
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub key_type: pki::KeyType,
    pub csr_pem: Option<String>,
    pub profile: Option<String>,
    pub auto_renew: bool,
    pub dns_provider_id: Option<String>,
    /// For a renewal: the ARI identifier of the version it replaces (RFC 9773 §5).
    pub replaces: Option<String>,
}

/// Places the order at the CA through the account's actor and returns the pending record and
/// its challenges, not yet stored.
pub(super) async fn place(
    ctx: &Context,
    plan: OrderPlan,
) -> Result<(OrderRecord, Vec<ChallengeRecord>), Error> {
    let account = ctx.store.require_account(&plan.account_id).await?;
    // CAA first: an order it forbids is neither counted nor sent.
    caa_check::precheck(ctx, &account, &plan.domains, plan.challenge_type).await?;
    // The local ledger, before the CA is asked. A renewal sending `replaces` is only checked for
    // failed authorizations: the CA decides whether it is exempt from the rest (and says
    // `rateLimited` itself if not), but validates its names like any order's.
    let now = timestamp::now();
    let counted = match plan.replaces {
        None => {
            Some(rate_ledger::check(&*ctx.store, &ctx.limits, &account, &plan.domains, now).await?)
        }
        Some(_) => {
            rate_ledger::check_failures(&*ctx.store, &ctx.limits, &account, &plan.domains, now)
                .await?;
            None
        }
    };
    let created = match ctx
        .accounts
        .new_order(
            &plan.account_id,
            NewOrderSpec {
                domains: plan.domains.clone(),
                challenge_type: plan.challenge_type,
                profile: plan.profile.clone(),
                replaces: plan.replaces.clone(),
            },
        )
        .await
    {
        Ok(created) => created,
        Err(err) => return Err(pauses::refused(ctx, &plan.account_id, err).await),
    };
    pauses::accepted(ctx, &plan.account_id, &plan.domains).await;
    let now = timestamp::now();
    // An ARI renewal the CA accepted with `replaces` is exempt from its limits: not counted.
    if !created.replaced {
        let pending = match counted {
            Some(pending) => pending,
            // `replaces` was not accepted after all: count it as any order.
            None => rate_ledger::pending(&ctx.limits, &account, &plan.domains),
        };
        pending.record(&*ctx.store, now).await;
    }
    let id = ids::new_id("acme_order");
    let challenges = challenge_records(&id, plan.challenge_type, created.challenges);
    let record = OrderRecord {
        id,
        account_id: plan.account_id,
        certificate_id: plan.certificate_id,
        domains: plan.domains,
        challenge_type: plan.challenge_type,
        key_type: plan.key_type,
        csr_pem: plan.csr_pem,
        profile: plan.profile,
        auto_renew: plan.auto_renew,
        dns_provider_id: plan.dns_provider_id,
        status: OrderStatus::Pending,
        order_url: created.order_url,
        error: None,
        ca_attempts: 1,
        not_after: None,
        created_at: now,
        updated_at: now,
    };
    Ok((record, challenges))
}

/// Places the stored order at the CA again (same names, type, profile) and stores the new CA
/// order and its challenges, which the responders serve from then on.
pub(super) async fn place_again(ctx: &Context, order_id: &str) -> Result<(), Error> {
    let record = ctx
        .store
        .get_order(order_id)
        .await?
        .ok_or_else(|| DomainError::not_found("order", order_id))?;
    // The failed CA order just counted its failed authorizations: another may be one too many.
    let account = ctx.store.require_account(&record.account_id).await?;
    rate_ledger::check_failures(
        &*ctx.store,
        &ctx.limits,
        &account,
        &record.domains,
        timestamp::now(),
    )
    .await?;
    let created = match ctx
        .accounts
        .new_order(
            &record.account_id,
            NewOrderSpec {
                domains: record.domains.clone(),
                challenge_type: record.challenge_type,
                profile: record.profile.clone(),
                replaces: None,
            },
        )
        .await
    {
        Ok(created) => created,
        Err(err) => return Err(pauses::refused(ctx, &record.account_id, err).await),
    };
    pauses::accepted(ctx, &record.account_id, &record.domains).await;
    let challenges = challenge_records(order_id, record.challenge_type, created.challenges);
    let attempts = ctx
        .store
        .replace_ca_order(order_id, &created.order_url, &challenges)
        .await?;
    tracing::info!(order = %order_id, attempt = attempts, order_url = %created.order_url,
        "placed the order at the CA again");
    Ok(())
}

/// The stored form of the challenges the CA created for order `order_id`.
fn challenge_records(
    order_id: &str,
    challenge_type: ChallengeType,
    created: Vec<CreatedChallenge>,
) -> Vec<ChallengeRecord> {
    created
        .into_iter()
        .map(|c| ChallengeRecord {
            order_id: order_id.to_owned(),
            domain: c.domain,
            challenge_type,
            status: c.status,
            token: c.token,
            key_authorization: c.key_authorization,
            authorization_url: c.authorization_url,
            challenge_url: c.challenge_url,
            error: None,
        })
        .collect()
}
