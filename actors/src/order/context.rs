//! What the order handle, the supervisor and every order actor share, built once from
//! [`OrdersConfig`](super::OrdersConfig).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use instant_acme::RetryPolicy;
use scaivault_domain::SharedStore;
use scaivault_domain::order::OrderRecord;
use scaivault_domain::rate_limit::ProviderLimits;
use scaivault_domain::seal::MasterKey;

use super::config::OrdersConfig;
use super::dns01::DnsSupport;
use crate::account::Accounts;
use crate::events::Events;
use crate::faults::Faults;
use crate::renewal::SharedScheduler;

#[derive(Debug)]
pub(crate) struct Context {
    pub store: SharedStore,
    pub key: MasterKey,
    pub accounts: Accounts,
    pub events: Events,
    /// dns-01: providers, propagation checks, record cleanup.
    pub dns: Arc<DnsSupport>,
    /// Where the next automatic renewal of each new version is scheduled.
    pub scheduler: Option<SharedScheduler>,
    /// `[renewal] before_expiry`, for each new version's `renew_at`.
    pub before_expiry: Duration,
    /// The local rate-limit ledger's limits per provider.
    pub limits: ProviderLimits,
    /// Whether a TLS-ALPN-01 responder listens.
    pub tls_alpn01: bool,
    /// Whether orders are checked against CAA before they are placed.
    pub caa_precheck: bool,
    /// Polling of authorizations and orders ([`default_poll`]).
    pub poll: RetryPolicy,
    pub faults: Faults,
    /// Per order, the CA order (URL) this process last saw `pending`: it was running while the
    /// CA could validate that CA order ([`Context::saw_pending`]).
    seen_pending: Mutex<HashMap<String, String>>,
}

impl Context {
    /// The context of the orders configured by `config`, with their dns-01 support.
    pub(super) fn new(config: OrdersConfig, dns: Arc<DnsSupport>) -> Self {
        let OrdersConfig {
            store,
            key,
            accounts,
            events,
            scheduler,
            cluster: _,
            dns: _,
            before_expiry,
            rate_limits,
            tls_alpn01,
            caa_precheck,
            faults,
        } = config;
        Self {
            store,
            key,
            accounts,
            events,
            dns,
            scheduler,
            before_expiry,
            limits: rate_limits,
            tls_alpn01,
            caa_precheck,
            poll: default_poll(),
            faults,
            seen_pending: Mutex::default(),
        }
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.seen_pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that this process sees the order's current CA order pending.
    pub(super) fn mark_pending(&self, record: &OrderRecord) {
        self.seen()
            .insert(record.id.clone(), record.order_url.clone());
    }

    /// Forgets the order (it ended, or this run's outcome is known).
    pub(super) fn forget_pending(&self, order_id: &str) {
        self.seen().remove(order_id);
    }

    /// Whether this process saw the order's current CA order pending, i.e. was up while the CA
    /// could validate it. If not, and the CA could not reach the responder, the CA validated
    /// while the service was down (killed or restarting between answering and validation).
    pub(super) fn saw_pending(&self, record: &OrderRecord) -> bool {
        self.seen().get(&record.id) == Some(&record.order_url)
    }
}

/// The polling policy of order actors: 5 ms, then 40 % longer each time. A CA that answers in
/// milliseconds (a local one) is seen within a few ms of being done; one that validates for
/// seconds (Let's Encrypt) costs about 16 polls in the first 3 s and much fewer after, and any
/// `Retry-After` it sends takes precedence (RFC 8555 §7.5.1: clients should honour it).
fn default_poll() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(5))
        .backoff(1.4)
        .timeout(Duration::from_secs(120))
}
