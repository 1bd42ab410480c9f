//! `POST /v1/pki/acme/issue`, `/v1/pki/acme/orders` and the renewal orders of certificates.

use scaivault_domain::order::{ChallengeRecord, OrderRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::{ChallengeType, DnsRecord, KeyType, OrderStatus};

/// `POST /v1/pki/acme/issue`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    pub account_id: String,
    /// 1 to 100 names: DNS names (IDNA to ASCII, lower-cased) and IP addresses (RFC 8738;
    /// IPv4 like `192.0.2.1`, IPv6 like `2001:db8::1` or `[2001:db8::1]`, stored in canonical
    /// form). Wildcards (`*.example.com`) need dns-01; IP addresses need http-01 or tls-alpn-01
    /// (dns-01 is 400 with `details.field: "challenge_type"`), so a wildcard and an IP address
    /// never share an order. For Let's Encrypt, an order with an IP address gets the
    /// `shortlived` profile when `profile` is absent, and any other profile is 400.
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    /// Renew before expiry; true when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew: Option<bool>,
    /// dns-01: the DNS provider that writes the TXT records. When absent, the provider with
    /// the longest zone containing the names (else the one marked `default`) is chosen and
    /// shown on the order; none or a tie is 400 naming the candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_provider_id: Option<String>,
    /// `ecdsa-p256` when absent; excludes `csr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<KeyType>,
    /// The caller's CSR (PEM) naming exactly `domains`; then the service holds no private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    /// An ACME profile the CA offers (draft-ietf-acme-profiles), e.g. `tlsserver`. For a
    /// Let's Encrypt account and an order with an IP address, `shortlived` when absent (the only
    /// profile it issues IP certificates under); another value is 400 (`details.field: "profile"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Issue {
    /// An order for `domains` by `challenge_type`, everything else as the defaults.
    pub fn new(
        account_id: impl Into<String>,
        domains: Vec<String>,
        challenge_type: ChallengeType,
    ) -> Self {
        Self {
            account_id: account_id.into(),
            domains,
            challenge_type,
            auto_renew: None,
            dns_provider_id: None,
            key_type: None,
            csr: None,
            profile: None,
        }
    }
}

/// `GET /v1/pki/acme/orders?status=&limit=&cursor=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListOrders {
    pub status: Option<OrderStatus>,
    /// 1 to 100; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Why an order failed: a stable code and a message naming the domain, the challenge and the
/// CA's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderError {
    pub code: String,
    pub message: String,
}

/// An order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub order_id: String,
    pub account_id: String,
    /// The managed certificate this order renews, or the one it created once valid.
    pub certificate_id: Option<String>,
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub key_type: KeyType,
    pub profile: Option<String>,
    pub auto_renew: bool,
    pub dns_provider_id: Option<String>,
    pub status: OrderStatus,
    /// The order's URL at the CA.
    pub ca_order_url: String,
    /// Only on an order that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<OrderError>,
    /// How many orders were placed at the CA for this one (more than one when the CA could not
    /// reach this service's responder and the order was placed again).
    pub ca_attempts: i64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&OrderRecord> for Order {
    fn from(record: &OrderRecord) -> Self {
        Self {
            order_id: record.id.clone(),
            account_id: record.account_id.clone(),
            certificate_id: record.certificate_id.clone(),
            domains: record.domains.clone(),
            challenge_type: record.challenge_type.into(),
            key_type: record.key_type.into(),
            profile: record.profile.clone(),
            auto_renew: record.auto_renew,
            dns_provider_id: record.dns_provider_id.clone(),
            status: record.status.into(),
            ca_order_url: record.order_url.clone(),
            error: record.error.as_ref().map(|error| OrderError {
                code: error.code.clone(),
                message: error.message.clone(),
            }),
            ca_attempts: record.ca_attempts,
            not_after: record.not_after,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// One name's challenge in an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    pub domain: String,
    #[serde(rename = "type")]
    pub challenge_type: ChallengeType,
    /// `pending`, `processing`, `valid` or `invalid` (RFC 8555 §7.1.6).
    pub status: String,
    pub token: String,
    pub key_authorization: String,
    /// Why the CA found it invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&ChallengeRecord> for Challenge {
    fn from(record: &ChallengeRecord) -> Self {
        Self {
            domain: record.domain.clone(),
            challenge_type: record.challenge_type.into(),
            status: record.status.clone(),
            token: record.token.clone(),
            key_authorization: record.key_authorization.clone(),
            error: record.error.clone(),
        }
    }
}

fn challenges(records: &[ChallengeRecord]) -> Vec<Challenge> {
    records.iter().map(Challenge::from).collect()
}

/// An order with each challenge to answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderWithChallenges {
    #[serde(flatten)]
    pub order: Order,
    pub challenges: Vec<Challenge>,
}

impl OrderWithChallenges {
    pub fn new(order: &OrderRecord, records: &[ChallengeRecord]) -> Self {
        Self {
            order: order.into(),
            challenges: challenges(records),
        }
    }
}

/// An order with its challenges and, for dns-01, its TXT records.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: Order,
    pub challenges: Vec<Challenge>,
    /// dns-01 only: where each TXT value went and whether its removal is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_records: Option<Vec<DnsRecord>>,
}

impl OrderDetail {
    pub fn new(
        order: &OrderRecord,
        records: &[ChallengeRecord],
        dns_records: Option<Vec<DnsRecord>>,
    ) -> Self {
        Self {
            order: order.into(),
            challenges: challenges(records),
            dns_records,
        }
    }
}

/// A renewal order; `joined` when it is the renewal already in flight.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RenewalOrder {
    #[serde(flatten)]
    pub order: Order,
    pub challenges: Vec<Challenge>,
    pub joined: bool,
}

impl RenewalOrder {
    pub fn new(order: &OrderRecord, records: &[ChallengeRecord], joined: bool) -> Self {
        Self {
            order: order.into(),
            challenges: challenges(records),
            joined,
        }
    }
}

/// A page of orders, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<Order>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
