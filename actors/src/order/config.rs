//! What the orders are built from: everything in one struct, given once at start.

use std::net::SocketAddr;
use std::time::Duration;

use scaivault_domain::rate_limit::ProviderLimits;
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{SharedStore, ids};

use crate::account::Accounts;
use crate::events::Events;
use crate::faults::Faults;
use crate::renewal::SharedScheduler;

/// The orders' configuration and the services they use.
#[derive(Debug, Clone)]
pub struct OrdersConfig {
    pub store: SharedStore,
    pub key: MasterKey,
    pub accounts: Accounts,
    pub events: Events,
    /// Where each new version's first renewal is scheduled; `None` renews nothing on its own.
    pub scheduler: Option<SharedScheduler>,
    /// This instance in the cluster (`[cluster]`).
    pub cluster: Cluster,
    /// dns-01 (`[dns]`).
    pub dns: DnsSettings,
    /// `[renewal] before_expiry`, for each new version's `renew_at`.
    pub before_expiry: Duration,
    /// The local rate-limit ledger's limits per provider (`[rate_limits.<provider>]`; none is
    /// unlimited).
    pub rate_limits: ProviderLimits,
    /// Whether a TLS-ALPN-01 responder listens (`[challenges] tls_alpn01_listen` not empty):
    /// without one a tls-alpn-01 order could only fail at the CA, so it is refused at once.
    pub tls_alpn01: bool,
    /// `[acme] caa_precheck`: look CAA up before placing an order, and refuse one it forbids.
    pub caa_precheck: bool,
    pub faults: Faults,
}

/// How dns-01 finds nameservers and waits for them (`[dns]`).
#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub resolvers: Vec<SocketAddr>,
    pub propagation_timeout: Duration,
    pub propagation_interval: Duration,
    /// Provider API calls in flight per DNS provider (`[dns] max_concurrent_requests`).
    pub max_concurrent_requests: usize,
    /// Where provider APIs may be (`[dns] allow_insecure_endpoints`).
    pub endpoints: scaivault_dns::EndpointPolicy,
}

/// This instance in the cluster (`[cluster]`).
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `inst_<random>`, new for every process: shown in `/readyz` and written in lease rows.
    pub instance_id: String,
    /// How long a lease lasts without renewal (`[cluster] lease`).
    pub lease: Duration,
}

impl Cluster {
    /// A fresh instance id with this lease duration.
    pub fn new(lease: Duration) -> Self {
        Self {
            instance_id: ids::new_id("inst"),
            lease,
        }
    }
}
