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
use std::time::Duration;

use instant_acme::{AuthorizationStatus, ChallengeStatus, OrderStatus as CaStatus, RetryPolicy};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use scaivault_domain::certificate::{
    CertificateRecord, CertificateStatus, CertificateVersion, Issuance, version_key_aad,
};
use scaivault_domain::order::{
    ChallengeType, OrderError, OrderProgress, OrderRecord, OrderStatus, order_key_aad,
};
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{SharedStore, ids, pki, renewal, timestamp};

use crate::account::acme_challenge_type;
use crate::dns_challenges::{DnsSupport, PublishError, TxtChallenge};
use crate::{Accounts, Error};

/// What order actors share.
#[derive(Debug)]
pub struct OrderContext {
    pub store: SharedStore,
    pub key: MasterKey,
    pub accounts: Accounts,
    /// dns-01: providers, propagation checks, record cleanup.
    pub dns: Arc<DnsSupport>,
    /// `[renewal] before_expiry`, for each new version's `renew_at`.
    pub before_expiry: Duration,
    /// Where the next automatic renewal of each new version is scheduled.
    pub scheduler: Option<crate::renewals::SharedScheduler>,
    /// Polling of authorizations and orders: starts fast (a local CA answers in milliseconds),
    /// backs off, and honours the CA's Retry-After (instant-acme reads it).
    pub poll: RetryPolicy,
    /// Test-only fault injection: panic once per order at this step (debug builds only).
    pub panic_at: Option<String>,
    /// Per order, the CA order (URL) this process last saw `pending`: it was running while the
    /// CA could validate that CA order ([`OrderContext::saw_pending`]).
    pub(crate) seen_pending: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl OrderContext {
    fn seen_pending(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.seen_pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this process saw the order's current CA order pending, i.e. was up while the CA
    /// could validate it. If not, and the CA could not reach the responder, the CA validated
    /// while the service was down (killed or restarting between answering and validation).
    fn saw_pending(&self, record: &OrderRecord) -> bool {
        self.seen_pending().get(&record.id) == Some(&record.order_url)
    }
}

/// Messages of an order actor.
#[derive(Debug)]
pub enum OrderMsg {
    /// Drive the order as far as it goes.
    Drive,
}

/// The actor type.
#[derive(Debug)]
pub struct OrderActor {
    pub(crate) ctx: Arc<OrderContext>,
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
        let mut outcome = self.drive(order_id).await;
        while let Err(Failure::Reorder(error)) = outcome {
            tracing::warn!(order = %order_id, message = %error.message,
                "the CA could not reach this service's responder; placing the order again");
            outcome = match self.reorder(order_id).await {
                Ok(()) => self.drive(order_id).await,
                Err(_) => Err(Failure::Final(error)),
            };
        }
        if !matches!(outcome, Err(Failure::Transient(_))) {
            self.ctx.seen_pending().remove(order_id.as_str());
        }
        match outcome {
            Ok(()) => {
                self.ctx.dns.clean_up_order(order_id).await;
                myself.stop(Some("order finished".into()));
                Ok(())
            }
            Err(Failure::Final(error)) => {
                tracing::warn!(order = %order_id, code = %error.code, message = %error.message,
                    "order is invalid");
                self.finish(order_id, OrderStatus::Invalid, Some(error))
                    .await?;
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

/// How a run ended short of a certificate.
enum Failure {
    /// Retrying cannot help: the order ends invalid with this error.
    Final(OrderError),
    /// Retrying may help (network, timeouts, store).
    Transient(Error),
    /// The CA could not connect to this service's responder (it was down or restarting while
    /// the CA validated): placing the order again at the CA may succeed.
    Reorder(OrderError),
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

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Transient(err)
    }
}

impl From<scaivault_domain::Error> for Failure {
    fn from(err: scaivault_domain::Error) -> Self {
        Failure::Transient(err.into())
    }
}

impl OrderActor {
    async fn drive(&self, order_id: &str) -> Result<(), Failure> {
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
        let mut order = account
            .order(record.order_url.clone())
            .await
            .map_err(|err| classify(&record, err))?;
        step("read order");

        if order.state().status == CaStatus::Pending {
            self.ctx
                .seen_pending()
                .insert(record.id.clone(), record.order_url.clone());
            self.answer_challenges(&record, &mut order).await?;
            step("challenges answered");
            self.fault(&record.id, "ready");
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
            self.fault(&record.id, "finalize");
            let csr = self.csr(&record).await?;
            self.progress(&record.id, OrderStatus::Processing).await?;
            step("key and csr stored");
            order
                .finalize_csr(&csr)
                .await
                .map_err(|err| classify(&record, err))?;
            step("finalized");
        }
        self.fault(&record.id, "certificate");
        let polled = order.poll_certificate(&ctx.poll).await;
        if order.state().status == CaStatus::Invalid {
            return Err(self.invalid(&record, &mut order).await);
        }
        let chain = polled.map_err(|err| classify(&record, err))?;
        step("certificate downloaded");
        self.store_certificate(&record, &chain).await?;
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
        let wanted = acme_challenge_type(record.challenge_type);
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
    /// RFC 8555 §7.5.1: only a pending challenge can be responded to). Found by
    /// tests/crash_loop.rs. Only a refusal of a challenge that is still pending ends the order;
    /// for the others the order poll that follows reports how validation went.
    async fn recheck_refused(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
        mut refused: Vec<(String, instant_acme::Error)>,
    ) -> Result<(), Failure> {
        let wanted = acme_challenge_type(record.challenge_type);
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

    /// The CSR to finalise with: the caller's, or one for a fresh key that is sealed and stored
    /// *before* the CSR leaves, so the key exists whatever happens after.
    async fn csr(&self, record: &OrderRecord) -> Result<Vec<u8>, Failure> {
        if let Some(pem) = &record.csr_pem {
            return pki::csr_from_pem(pem, &record.domains)
                .map_err(|err| Failure::Final(OrderError::new("invalid_csr", err.to_string())));
        }
        let generated =
            pki::generate_key_and_csr(record.key_type, &record.domains).map_err(|err| {
                Failure::Final(OrderError::new("key_generation_failed", err.to_string()))
            })?;
        let sealed = self.ctx.key.seal(
            &order_key_aad(&record.id),
            generated.private_key_pem.as_bytes(),
        )?;
        self.ctx.store.set_order_key(&record.id, &sealed).await?;
        Ok(generated.csr_der)
    }

    /// Stores the chain as the next version of the order's managed certificate, with the order
    /// marked valid, in one transaction.
    async fn store_certificate(
        &self,
        record: &OrderRecord,
        chain_pem: &str,
    ) -> Result<(), Failure> {
        let ctx = &self.ctx;
        let chain = pki::parse_chain(chain_pem)
            .map_err(|err| Failure::Final(OrderError::new("bad_certificate", err.to_string())))?;
        let now = timestamp::now();
        let private_key = match &record.csr_pem {
            Some(_) => None,
            None => {
                let sealed = ctx.store.order_key(&record.id).await?.ok_or_else(|| {
                    Failure::Final(OrderError::new(
                        "key_missing",
                        "the order's private key was not stored before finalisation",
                    ))
                })?;
                Some(ctx.key.open(&order_key_aad(&record.id), &sealed)?)
            }
        };
        let previous = match &record.certificate_id {
            Some(id) => ctx.store.get_certificate(id).await?,
            None => None,
        };
        let certificate_id = record
            .certificate_id
            .clone()
            .unwrap_or_else(|| ids::new_id("cert"));
        let version = previous.as_ref().map_or(1, |c| c.current_version + 1);
        let sealed_key = match &private_key {
            Some(key) => Some(
                ctx.key
                    .seal(&version_key_aad(&certificate_id, version), key)?,
            ),
            None => None,
        };
        let renew_at = renewal::schedule(chain.not_before, chain.not_after, ctx.before_expiry);
        let certificate = CertificateRecord {
            id: certificate_id.clone(),
            account_id: record.account_id.clone(),
            domains: record.domains.clone(),
            challenge_type: record.challenge_type,
            key_type: record.key_type,
            dns_provider_id: record.dns_provider_id.clone(),
            profile: record.profile.clone(),
            auto_renew: record.auto_renew,
            own_csr: record.csr_pem.is_some(),
            current_version: version,
            status: CertificateStatus::Valid,
            serial_number: chain.serial.clone(),
            not_after: chain.not_after,
            renew_at: Some(renew_at),
            created_at: previous.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
        };
        let issuance = Issuance {
            order_id: record.id.clone(),
            version: CertificateVersion {
                certificate_id: certificate_id.clone(),
                version,
                order_id: record.id.clone(),
                serial_number: chain.serial.clone(),
                issuer: chain.issuer.clone(),
                sans: chain.sans.clone(),
                not_before: chain.not_before,
                not_after: chain.not_after,
                chain_pem: chain.chain_pem.clone(),
                has_private_key: sealed_key.is_some(),
                status: CertificateStatus::Valid,
                revocation: None,
                created_at: now,
            },
            certificate,
            sealed_key,
        };
        match ctx.store.record_issuance(&issuance).await {
            Ok(()) => {}
            // A previous run stored it and crashed before the order was seen as valid.
            Err(scaivault_domain::Error::Conflict(_)) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
        // With ARI the CA's window decides renew_at, and the first look again is due by its
        // Retry-After (RFC 9773 §4.3).
        let (renew_at, first_check) = match record.auto_renew {
            true => crate::renewals::ari_plan(
                ctx,
                &certificate_id,
                &record.account_id,
                version,
                &chain.chain_pem,
                Some(renew_at),
            )
            .await
            .unwrap_or((renew_at, renew_at)),
            false => (renew_at, renew_at),
        };
        tracing::info!(order = %record.id, certificate = %certificate_id, version,
            serial = %chain.serial, not_after = %timestamp::rfc3339(chain.not_after),
            renew_at = %timestamp::rfc3339(renew_at), "certificate issued");
        let kind = if version == 1 {
            "certificate.issued"
        } else {
            "certificate.renewed"
        };
        crate::renewals::record_event(
            &ctx.store,
            kind,
            serde_json::json!({
                "certificate_id": certificate_id,
                "order_id": record.id,
                "domains": record.domains,
                "version": version,
                "serial_number": pki::serial_with_colons(&chain.serial),
                "not_after": timestamp::rfc3339(chain.not_after),
                "renew_at": timestamp::rfc3339(renew_at),
            }),
        )
        .await;
        if record.auto_renew
            && let Some(scheduler) = &ctx.scheduler
            && let Err(err) = scheduler
                .schedule(&certificate_id, version, first_check)
                .await
        {
            // Not lost: start-up schedules a renewal for every certificate without one.
            tracing::error!(certificate = %certificate_id, error = %err, "cannot schedule the next renewal");
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

    /// Places the order at the CA again (same names, type, profile) and stores the new
    /// challenges, which the responders serve from then on.
    async fn reorder(&self, order_id: &str) -> Result<(), Error> {
        let record = self
            .ctx
            .store
            .get_order(order_id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("order", order_id))?;
        let created = self
            .ctx
            .accounts
            .new_order(
                &record.account_id,
                crate::account::NewOrderSpec {
                    domains: record.domains.clone(),
                    challenge_type: record.challenge_type,
                    profile: record.profile.clone(),
                    replaces: None,
                },
            )
            .await?;
        let challenges =
            crate::orders::challenge_records(order_id, record.challenge_type, created.challenges);
        let attempts = self
            .ctx
            .store
            .replace_ca_order(order_id, &created.order_url, &challenges)
            .await?;
        tracing::info!(order = %order_id, attempt = attempts, order_url = %created.order_url, "placed the order at the CA again");
        Ok(())
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
        let order_problem = order.state().error.clone();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let Ok(mut authorization) = authorization else {
                continue;
            };
            let _ = authorization.refresh().await;
            let domain = authorization.identifier().to_string();
            let wanted = acme_challenge_type(record.challenge_type);
            for challenge in authorization
                .challenges
                .iter()
                .filter(|c| c.r#type == wanted)
            {
                if let Some(problem) = &challenge.error {
                    kinds.push(problem.r#type.clone().unwrap_or_default());
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
            !kinds.is_empty() && kinds.iter().all(|k| k.ends_with(":connection"));
        (
            OrderError::new("validation_failed", reasons.join("; ")),
            unreachable_only,
        )
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

    pub(crate) async fn finish(
        &self,
        order_id: &str,
        status: OrderStatus,
        error: Option<OrderError>,
    ) -> Result<(), Error> {
        finish(&self.ctx.store, order_id, status, error).await
    }

    /// Test-only fault injection (debug builds): panics the first time an order reaches `step`.
    fn fault(&self, order_id: &str, step: &str) {
        if cfg!(debug_assertions) && self.ctx.panic_at.as_deref() == Some(step) {
            use std::sync::{Mutex, OnceLock};
            static DONE: OnceLock<Mutex<std::collections::HashSet<String>>> = OnceLock::new();
            let key = format!("{order_id}:{step}");
            let first = DONE
                .get_or_init(Default::default)
                .lock()
                .map(|mut done| done.insert(key))
                .unwrap_or(false);
            if first {
                panic!("injected fault at step {step}");
            }
        }
    }
}

/// Ends an order with a final status.
pub(crate) async fn finish(
    store: &SharedStore,
    order_id: &str,
    status: OrderStatus,
    error: Option<OrderError>,
) -> Result<(), Error> {
    store
        .set_order_progress(
            order_id,
            &OrderProgress {
                status,
                error: error.clone(),
                at: timestamp::now(),
            },
        )
        .await?;
    if status == OrderStatus::Invalid
        && let Some(order) = store.get_order(order_id).await?
    {
        crate::renewals::record_event(
            store,
            "order.invalid",
            serde_json::json!({
                "order_id": order_id,
                "certificate_id": order.certificate_id,
                "domains": order.domains,
                "challenge_type": order.challenge_type,
                "error": error,
            }),
        )
        .await;
    }
    Ok(())
}

/// Sorts a dns-01 publication failure: what retrying cannot fix ends the order, naming the
/// domain and the provider; the rest (rate limits, provider outages) is retried.
fn publish_failure(provider_id: &str, err: PublishError) -> Failure {
    match err {
        PublishError::Setup(Error::Dns(err)) => Failure::Final(OrderError::new(
            "dns_provider_error",
            format!("dns-01: DNS provider {provider_id}: {err}"),
        )),
        PublishError::Setup(Error::Domain(scaivault_domain::Error::NotFound { kind, id })) => {
            Failure::Final(OrderError::new(
                "dns_provider_error",
                format!("dns-01: {kind} {id} not found"),
            ))
        }
        PublishError::Setup(err) => Failure::Transient(err),
        PublishError::Dns(_, err) if err.is_transient() => Failure::Transient(Error::Dns(err)),
        PublishError::Dns(domain, err) => Failure::Final(OrderError::new(
            "dns_provider_error",
            format!(
                "{domain}: dns-01: DNS provider {provider_id} could not write the TXT record: {err}"
            ),
        )),
        PublishError::Propagation(domain, err) => Failure::Final(OrderError::new(
            "dns_propagation_failed",
            format!("{domain}: dns-01: {err}"),
        )),
    }
}

/// Sorts a protocol error into final (the CA decided) or transient (try again).
fn classify(record: &OrderRecord, err: instant_acme::Error) -> Failure {
    match err {
        instant_acme::Error::Api(problem) => {
            let kind = problem.r#type.clone().unwrap_or_default();
            let short = kind
                .strip_prefix("urn:ietf:params:acme:error:")
                .unwrap_or(&kind)
                .to_owned();
            if matches!(
                short.as_str(),
                "serverInternal" | "badNonce" | "rateLimited"
            ) {
                return Failure::Transient(Error::from_acme(
                    &record.order_url,
                    instant_acme::Error::Api(problem),
                ));
            }
            let domains = record.domains.join(", ");
            Failure::Final(OrderError::new(
                short.clone(),
                format!(
                    "the CA refused the order for {domains}: {} ({kind})",
                    problem.detail.as_deref().unwrap_or("no detail"),
                ),
            ))
        }
        instant_acme::Error::Timeout(_) => Failure::Transient(Error::Unavailable(format!(
            "order {}: the CA did not finish in time; polling again",
            record.id
        ))),
        other => Failure::Transient(Error::from_acme(&record.order_url, other)),
    }
}

/// The polling policy of order actors: 5 ms, then 40 % longer each time. A CA that answers in
/// milliseconds (a local one) is seen within a few ms of being done; one that validates for
/// seconds (Let's Encrypt) costs about 16 polls in the first 3 s and much fewer after, and any
/// `Retry-After` it sends takes precedence (RFC 8555 §7.5.1: clients should honour it).
pub fn default_poll() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(5))
        .backoff(1.4)
        .timeout(Duration::from_secs(120))
}
