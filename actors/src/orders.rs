//! The handle through which the edge starts orders: validation, the CA order through the
//! account's actor, the persisted order, and its actor under the supervisor.

use std::sync::Arc;

use ractor::{Actor, ActorRef};
use scaivault_dns::Propagation;
use scaivault_domain::account::AccountStatus;
use scaivault_domain::order::{ChallengeRecord, ChallengeType, OrderRecord, OrderStatus};
use scaivault_domain::rate_limit::ProviderLimits;
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{Error as DomainError, SharedStore, ids, pki, timestamp};

use crate::account::NewOrderSpec;
use crate::dns_challenges::DnsSupport;
use crate::leases::{Cluster, Leases};
use crate::order::{OrderContext, default_poll};
use crate::order_supervisor::{OrderSupervisor, OrderSupervisorMsg};
use crate::provider_slots::ProviderSlots;
use crate::{Accounts, Error};

/// A request to issue, as received (`POST /v1/pki/acme/issue`).
#[derive(Debug, Clone, Default)]
pub struct IssueRequest {
    pub account_id: String,
    pub domains: Vec<String>,
    pub challenge_type: String,
    pub auto_renew: Option<bool>,
    pub dns_provider_id: Option<String>,
    pub key_type: Option<String>,
    pub csr: Option<String>,
    pub profile: Option<String>,
}

/// How dns-01 finds nameservers and waits for them (`[dns]`).
#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub resolvers: Vec<std::net::SocketAddr>,
    pub propagation_timeout: std::time::Duration,
    pub propagation_interval: std::time::Duration,
    /// Provider API calls in flight per DNS provider (`[dns] max_concurrent_requests`).
    pub max_concurrent_requests: usize,
}

/// The order actors and their supervisor.
#[derive(Clone, Debug)]
pub struct Orders {
    ctx: Arc<OrderContext>,
    supervisor: ActorRef<OrderSupervisorMsg>,
    sweeper: Arc<tokio::task::JoinHandle<()>>,
    /// The local rate-limit ledger's limits per provider (`[rate_limits.<provider>]`).
    limits: Arc<ProviderLimits>,
    /// This instance's order leases (`[cluster]`).
    leases: Arc<Leases>,
    /// The lease keeper and takeover loops, once started.
    lease_loops: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Orders {
    /// Starts the order supervisor. `panic_at` is the test-only fault injection step.
    pub async fn start(
        store: SharedStore,
        key: MasterKey,
        accounts: Accounts,
        dns: DnsSettings,
        before_expiry: std::time::Duration,
        scheduler: Option<crate::renewals::SharedScheduler>,
        panic_at: Option<String>,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|err| Error::Unavailable(format!("DNS provider HTTP client: {err}")))?;
        let dns = Arc::new(DnsSupport {
            store: store.clone(),
            key: key.clone(),
            http,
            propagation: Propagation::new(
                dns.resolvers,
                dns.propagation_timeout,
                dns.propagation_interval,
            ),
            slots: ProviderSlots::new(dns.max_concurrent_requests),
        });
        let ctx = Arc::new(OrderContext {
            store,
            key,
            accounts,
            dns: dns.clone(),
            before_expiry,
            scheduler,
            poll: default_poll(),
            panic_at,
            seen_pending: Default::default(),
        });
        let leases = Arc::new(Leases::new(ctx.store.clone(), Cluster::default()));
        let (supervisor, _) =
            Actor::spawn(None, OrderSupervisor { ctx: ctx.clone() }, leases.clone())
                .await
                .map_err(|err| Error::Unavailable(format!("order supervisor: {err}")))?;
        let sweeper = Arc::new(tokio::spawn(dns.sweep_forever()));
        Ok(Self {
            ctx,
            supervisor,
            sweeper,
            limits: Arc::default(),
            leases,
            lease_loops: Arc::default(),
        })
    }

    /// Sets this instance's id and lease duration (`[cluster]`); call before any order starts.
    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.leases = Arc::new(Leases::new(self.ctx.store.clone(), cluster));
        if let Err(err) = self
            .supervisor
            .cast(OrderSupervisorMsg::Cluster(self.leases.clone()))
        {
            tracing::error!(error = %err, "cannot reach the order supervisor");
        }
        self
    }

    /// This process's instance id (`inst_...`).
    pub fn instance_id(&self) -> &str {
        self.leases.instance_id()
    }

    /// Sets the local rate-limit ledger's limits (none by default: unlimited).
    pub fn with_rate_limits(mut self, limits: ProviderLimits) -> Self {
        self.limits = Arc::new(limits);
        self
    }

    pub(crate) fn ctx(&self) -> &OrderContext {
        &self.ctx
    }

    /// Resumes every unfinished order nobody drives (no lease, or an expired one: its instance
    /// stopped or died), then keeps this instance's leases renewed and takes over such orders
    /// every `lease / 2`. On SQLite, which one instance uses, leases of earlier processes are
    /// dropped first, so a restart after a crash resumes at once.
    pub async fn resume_unfinished(&self) -> Result<usize, Error> {
        let store = &self.ctx.store;
        if store.backend() == "sqlite" {
            store
                .clear_foreign_order_leases(self.leases.instance_id())
                .await?;
        }
        let ids = store
            .claimable_orders(timestamp::now(), u32::MAX >> 1)
            .await?;
        for id in &ids {
            self.drive(id);
        }
        let loops = self.leases.spawn_loops(self.supervisor.clone());
        self.lease_loops
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(loops);
        Ok(ids.len())
    }

    /// Graceful shutdown: stops driving orders (their actors are killed; every step is already
    /// persisted) and hands every lease back at once, so other instances take the orders over
    /// without waiting for the leases to expire. Returns how many leases were handed back.
    pub async fn stop(&self) -> u64 {
        self.leases.stop_acquiring();
        for task in self
            .lease_loops
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..)
        {
            task.abort();
        }
        for child in self.supervisor.get_children() {
            let _ = child
                .kill_and_wait(Some(std::time::Duration::from_secs(5)))
                .await;
        }
        let released = self.leases.release_all().await;
        self.shutdown();
        released
    }

    /// Whether the supervisor runs (for readiness).
    pub fn is_running(&self) -> bool {
        matches!(
            self.supervisor.get_status(),
            ractor::ActorStatus::Running | ractor::ActorStatus::Upgrading
        )
    }

    /// Stops the order actors; their orders resume from the store at the next start.
    pub fn shutdown(&self) {
        self.leases.stop_acquiring();
        for task in self
            .lease_loops
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..)
        {
            task.abort();
        }
        self.sweeper.abort();
        self.supervisor.stop_children(Some("shutdown".into()));
        self.supervisor.stop(Some("shutdown".into()));
    }

    fn drive(&self, order_id: &str) {
        if let Err(err) = self
            .supervisor
            .cast(OrderSupervisorMsg::Start(order_id.to_owned()))
        {
            tracing::error!(order = %order_id, error = %err, "cannot reach the order supervisor");
        }
    }

    /// Validates the request, creates the order at the CA, persists it and starts its actor.
    pub async fn issue(
        &self,
        request: IssueRequest,
    ) -> Result<(OrderRecord, Vec<ChallengeRecord>), Error> {
        let challenge_type: ChallengeType = request.challenge_type.parse()?;
        let domains =
            pki::normalize_domains(&request.domains, challenge_type == ChallengeType::Dns01)?;
        let key_type = match request.key_type.as_deref() {
            Some(text) => text.parse()?,
            None => pki::KeyType::default(),
        };
        if let Some(csr) = &request.csr {
            if request.key_type.is_some() {
                return Err(DomainError::invalid(
                    "key_type",
                    "key_type and csr exclude each other: the CSR's key is used",
                )
                .into());
            }
            pki::csr_from_pem(csr, &domains)?;
        }
        if let Some(profile) = &request.profile
            && (profile.is_empty()
                || profile.len() > 64
                || !profile
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(DomainError::invalid(
                "profile",
                format!("{profile:?} is not a profile name"),
            )
            .into());
        }
        match (challenge_type, &request.dns_provider_id) {
            (ChallengeType::Dns01, None) => {
                return Err(DomainError::invalid(
                    "dns_provider_id",
                    "dns-01 needs dns_provider_id naming a configured DNS provider",
                )
                .into());
            }
            (ChallengeType::Dns01, Some(id)) => {
                if self.ctx.store.get_dns_provider(id).await?.is_none() {
                    return Err(DomainError::invalid(
                        "dns_provider_id",
                        format!("no DNS provider {id} is configured"),
                    )
                    .into());
                }
            }
            (_, Some(_)) => {
                return Err(DomainError::invalid(
                    "dns_provider_id",
                    "dns_provider_id is only for challenge_type dns-01",
                )
                .into());
            }
            (_, None) => {}
        }
        let account = self
            .ctx
            .store
            .get_account(&request.account_id)
            .await?
            .ok_or_else(|| DomainError::not_found("account", request.account_id.clone()))?;
        if account.status != AccountStatus::Active {
            return Err(DomainError::Conflict(format!(
                "account {} is {}; register a new one",
                account.id,
                account.status.as_str()
            ))
            .into());
        }
        let (record, challenges) = self
            .place(OrderPlan {
                account_id: account.id,
                certificate_id: None,
                domains,
                challenge_type,
                key_type,
                csr_pem: request.csr,
                profile: request.profile,
                auto_renew: request.auto_renew.unwrap_or(true),
                dns_provider_id: request.dns_provider_id,
                replaces: None,
            })
            .await?;
        let id = record.id.clone();
        self.ctx.store.insert_order(&record, &challenges).await?;
        self.drive(&id);
        Ok((record, challenges))
    }
}

impl Orders {
    /// Renews a managed certificate now: a new order with the same account, names, challenge
    /// type, DNS provider, key type and profile (and, for a certificate from the caller's CSR,
    /// that CSR). If a renewal is already in flight, that order is returned instead (`true`):
    /// at most one renewal per certificate, enforced by the store.
    pub async fn renew(
        &self,
        certificate_id: &str,
    ) -> Result<(OrderRecord, Vec<ChallengeRecord>, bool), Error> {
        let store = &self.ctx.store;
        let certificate = store
            .get_certificate(certificate_id)
            .await?
            .ok_or_else(|| DomainError::not_found("certificate", certificate_id))?;
        if let Some(order) = store.renewal_in_flight(certificate_id).await? {
            let challenges = store.order_challenges(&order.id).await?;
            return Ok((order, challenges, true));
        }
        let account = store
            .get_account(&certificate.account_id)
            .await?
            .ok_or_else(|| DomainError::not_found("account", certificate.account_id.clone()))?;
        if account.status != AccountStatus::Active {
            return Err(DomainError::Conflict(format!(
                "certificate {certificate_id} was issued through account {}, which is {}",
                account.id,
                account.status.as_str()
            ))
            .into());
        }
        // The current version (the one this renewal replaces), by its unique serial.
        let last = store
            .version_by_serial(&certificate.serial_number)
            .await?
            .ok_or_else(|| {
                DomainError::corrupt(format!(
                    "certificate {certificate_id} has no current version"
                ))
            })?;
        let csr_pem = if certificate.own_csr {
            store
                .get_order(&last.order_id)
                .await?
                .and_then(|o| o.csr_pem)
        } else {
            None
        };
        // Sent only if the CA offers ARI; a leaf without an AKI simply has no identifier.
        let replaces = pki::renewal_cert_id(&last.chain_pem).ok();
        let (record, challenges) = self
            .place(OrderPlan {
                account_id: account.id,
                certificate_id: Some(certificate.id.clone()),
                domains: certificate.domains,
                challenge_type: certificate.challenge_type,
                key_type: certificate.key_type,
                csr_pem,
                profile: certificate.profile,
                auto_renew: certificate.auto_renew,
                dns_provider_id: certificate.dns_provider_id,
                replaces,
            })
            .await?;
        let id = record.id.clone();
        match store.insert_order(&record, &challenges).await {
            Ok(()) => {}
            // Another renewal started between the check and the insert: join it. (The CA order
            // just created is never answered and expires at the CA.)
            Err(DomainError::Conflict(conflict)) => {
                if let Some(order) = store.renewal_in_flight(certificate_id).await? {
                    let challenges = store.order_challenges(&order.id).await?;
                    return Ok((order, challenges, true));
                }
                // That renewal already finished too: nothing was stored for this one, so it
                // must not be driven; the caller may simply ask again.
                return Err(DomainError::Conflict(conflict).into());
            }
            Err(err) => return Err(err.into()),
        }
        tracing::info!(certificate = %certificate_id, order = %id, "renewal started");
        self.drive(&id);
        Ok((record, challenges, false))
    }
}

/// What a new order asks for, whether a first issuance or a renewal.
struct OrderPlan {
    account_id: String,
    certificate_id: Option<String>,
    domains: Vec<String>,
    challenge_type: ChallengeType,
    key_type: pki::KeyType,
    csr_pem: Option<String>,
    profile: Option<String>,
    auto_renew: bool,
    dns_provider_id: Option<String>,
    /// For a renewal: the ARI identifier of the version it replaces (RFC 9773 §5).
    replaces: Option<String>,
}

impl Orders {
    /// Places the order at the CA through the account's actor and returns the pending record
    /// and its challenges, not yet stored.
    async fn place(&self, plan: OrderPlan) -> Result<(OrderRecord, Vec<ChallengeRecord>), Error> {
        // The local ledger, before the CA is asked. A renewal sending `replaces` is not checked:
        // the CA decides whether it is exempt (and says `rateLimited` itself if not).
        let account = self
            .ctx
            .store
            .get_account(&plan.account_id)
            .await?
            .ok_or_else(|| DomainError::not_found("account", plan.account_id.clone()))?;
        let counted = match plan.replaces {
            None => Some(
                crate::rate_ledger::check(
                    &self.ctx.store,
                    &self.limits,
                    &account,
                    &plan.domains,
                    timestamp::now(),
                )
                .await?,
            ),
            Some(_) => None,
        };
        let created = self
            .ctx
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
            .await?;
        let now = timestamp::now();
        // An ARI renewal the CA accepted with `replaces` is exempt from its limits: not counted.
        if !created.replaced {
            let pending = match counted {
                Some(pending) => pending,
                // `replaces` was not accepted after all: count it as any order.
                None => crate::rate_ledger::pending(&self.limits, &account, &plan.domains),
            };
            pending.record(&self.ctx.store, now).await;
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
}

/// The stored form of the challenges the CA created for order `order_id`.
pub(crate) fn challenge_records(
    order_id: &str,
    challenge_type: ChallengeType,
    created: Vec<crate::account::CreatedChallenge>,
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
